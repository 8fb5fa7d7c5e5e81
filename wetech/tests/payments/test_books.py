"""After any money event the flags on an invoice's payments are derived again.

The issue's story, end to end through the real inbox and settlement with in-memory gateway
clients: a customer pays one invoice through Pesapal and AzamPay, the AzamPay payment is flagged
"refund the customer", then the Pesapal payment is charged back. The invoice stays paid (the
AzamPay money covers it), and the AzamPay payment must stop being "to refund", with staff told
why; otherwise staff would follow the flag and WeTech would keep nothing.
"""

import json
import threading

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import RequestFactory

from wetech.models import AuditEntry, Invoice, LedgerEntry, PaymentAttempt, ReviewCase
from wetech.ops.integrity import integrity_audit
from wetech.payments.books import invoice_lock
from wetech.payments.gateways.base import GatewayRejected, PaymentStatus
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.refunds import RefundNotAllowed, refund_request
from wetech.payments.start import payment_start
from wetech.sales.selectors import invoice_status_payload
from wetech.tests.email_helpers import delivered, outbox_deliver
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

Status = PaymentAttempt.Status
Kind = ReviewCase.Kind


@pytest.fixture(autouse=True)
def _each_notification_asks(settings):
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0


def ipn(attempt):
    request = RequestFactory().get(
        "/payments/pesapal/ipn/",
        {
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        },
    )
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)
    return notification_process(notification=notification, bypass_window=True)


def azampay_callback(attempt):
    request = RequestFactory().post(
        "/payments/azampay/callback/x/",
        json.dumps(azampay_callback_body(attempt)),
        content_type="application/json",
    )
    notification = notification_record(gateway="azampay", kind="callback", request=request)
    return notification_process(notification=notification)


def both_started(invoice):
    pesapal_attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    azampay_attempt = payment_start(
        invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt
    return pesapal_attempt, azampay_attempt


def alerts(title_words: str):
    return [m for m in delivered() if m.subject.startswith(f"Action needed: {title_words}")]


def paid_twice(pesapal, *, payment_method="Visa"):
    """Pesapal pays the invoice, then AzamPay pays it again."""
    invoice = issued_invoice()
    pesapal_attempt, azampay_attempt = both_started(invoice)
    pesapal.answer(pesapal_attempt, PaymentStatus.COMPLETED, payment_method=payment_method)
    ipn(pesapal_attempt)
    azampay_callback(azampay_attempt)
    pesapal_attempt.refresh_from_db()
    azampay_attempt.refresh_from_db()
    return invoice, pesapal_attempt, azampay_attempt


@pytest.mark.django_db
def test_the_story_a_chargeback_clears_the_other_payments_refund_flag(
    pesapal, azampay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice, pesapal_attempt, azampay_attempt = paid_twice(pesapal)

    # Paid twice: the later payment is "to refund", with an open case and an alert.
    assert azampay_attempt.needs_refund and not pesapal_attempt.needs_refund
    flagged = ReviewCase.objects.get(kind=Kind.PAID_TWICE)
    assert (flagged.attempt, flagged.status) == (azampay_attempt, "open")
    (refund_alert,) = alerts("A payment must be refunded")
    assert azampay_attempt.merchant_reference in refund_alert.subject

    # The customer charges the Pesapal payment back.
    pesapal.answer(pesapal_attempt, PaymentStatus.REVERSED)
    with django_capture_on_commit_callbacks(execute=True):
        assert ipn(pesapal_attempt).result == "applied"

    azampay_attempt.refresh_from_db()
    invoice.refresh_from_db()
    # The invoice stays paid: the AzamPay money covers it ...
    assert invoice.status == Invoice.Status.PAID
    assert invoice_status_payload(invoice)["amount_paid"] == "413000.00"
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == [
        "payment",
        "payment",
        "reversal",
    ]
    # ... so the AzamPay payment is no longer to be refunded.
    assert not azampay_attempt.needs_refund
    flagged.refresh_from_db()
    assert (flagged.status, flagged.decision, flagged.resolved_by) == (
        "resolved",
        "dismiss",
        "system",
    )
    why = (
        f"{pesapal_attempt.merchant_reference} was reversed by Pesapal, so "
        f"{azampay_attempt.merchant_reference} (AzamPay) now pays invoice {invoice.number}: "
        "do not refund it."
    )
    assert flagged.resolution_reason == why
    cleared = AuditEntry.objects.get(action="flag_cleared")
    assert (cleared.actor, cleared.attempt, cleared.reason) == ("system", azampay_attempt, why)
    # Staff are told, and why.
    (cleared_alert,) = alerts("A payment must no longer be refunded")
    assert azampay_attempt.merchant_reference in cleared_alert.subject
    assert why in cleared_alert.body
    (chargeback_alert,) = alerts("A payment was reversed")
    assert "the invoice stays as it was" in chargeback_alert.body
    # The chargeback itself waits for a person.
    chargeback = ReviewCase.objects.get(kind=Kind.REVERSAL)
    assert (chargeback.attempt, chargeback.status) == (pesapal_attempt, "open")
    assert integrity_audit() == []


@pytest.mark.django_db
def test_refunding_the_flagged_payment_resolves_its_case_without_an_alert(
    pesapal, azampay, django_capture_on_commit_callbacks
):
    invoice, _, azampay_attempt = paid_twice(pesapal)
    outbox_deliver()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        refund_request(attempt=azampay_attempt, reason="Paid twice", actor="amina", reference="MP9")

    azampay_attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert not azampay_attempt.needs_refund
    case = ReviewCase.objects.get(kind=Kind.PAID_TWICE)
    assert (case.status, case.decision, case.resolved_by) == ("resolved", "refund", "system")
    assert invoice.status == Invoice.Status.PAID
    assert invoice_status_payload(invoice)["amount_paid"] == "413000.00"
    assert alerts("") == []
    assert not AuditEntry.objects.filter(action="flag_cleared").exists()
    assert integrity_audit() == []


@pytest.mark.django_db
def test_a_rejected_refund_flags_the_payment_again(pesapal, azampay):
    """Pesapal paid second this time: its refund goes through the API and is refused."""
    invoice = issued_invoice()
    pesapal_attempt, azampay_attempt = both_started(invoice)
    azampay_callback(azampay_attempt)
    pesapal.answer(pesapal_attempt, PaymentStatus.COMPLETED, payment_method="Visa")
    ipn(pesapal_attempt)
    pesapal_attempt.refresh_from_db()
    assert pesapal_attempt.needs_refund
    pesapal.refund_error = GatewayRejected("Refund amount is not valid", gateway="pesapal")

    with pytest.raises(RefundNotAllowed):
        refund_request(attempt=pesapal_attempt, reason="Paid twice", actor="amina")

    pesapal_attempt.refresh_from_db()
    assert pesapal_attempt.needs_refund
    cases = ReviewCase.objects.filter(kind=Kind.PAID_TWICE).order_by("pk")
    assert [(c.status, c.decision) for c in cases] == [("resolved", "refund"), ("open", "")]


@pytest.mark.django_db
def test_money_on_a_void_invoice_opens_a_void_invoice_case(pesapal):
    invoice = issued_invoice()
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID)
    pesapal.answer(attempt, PaymentStatus.COMPLETED)

    ipn(attempt)

    attempt.refresh_from_db()
    assert attempt.needs_refund
    case = ReviewCase.objects.get()
    assert (case.kind, case.attempt) == (Kind.VOID_INVOICE, attempt)
    assert case.expected["invoice_status"] == "void"
    assert Invoice.objects.get().status == Invoice.Status.VOID


@pytest.mark.django_db(transaction=True)
def test_news_about_two_payments_of_one_invoice_at_once_never_deadlocks(
    on_postgres, pesapal, azampay
):
    """The Pesapal payment is charged back while the AzamPay one completes: each settlement
    locks both attempts (in id order) before the invoice, so neither waits for the other
    forever; whichever comes first, the invoice ends paid by AzamPay, nothing to refund."""
    for _ in range(5):
        invoice = issued_invoice()
        pesapal_attempt, azampay_attempt = both_started(invoice)
        pesapal.answer(pesapal_attempt, PaymentStatus.COMPLETED)
        ipn(pesapal_attempt)
        pesapal.answer(pesapal_attempt, PaymentStatus.REVERSED)
        barrier = threading.Barrier(2)
        errors = []

        def deliver(send, attempt, barrier=barrier, errors=errors):
            try:
                barrier.wait(timeout=10)
                send(attempt)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=deliver, args=(ipn, pesapal_attempt)),
            threading.Thread(target=deliver, args=(azampay_callback, azampay_attempt)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == []
        azampay_attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert azampay_attempt.status == Status.COMPLETED and not azampay_attempt.needs_refund
        assert invoice.status == Invoice.Status.PAID
    assert integrity_audit() == []


class TestInvoiceLock:
    def test_the_books_are_the_same_with_or_without_the_invoice_hint(self, db, pesapal):
        invoice = issued_invoice()
        first = payment_start(invoice=invoice, gateway="pesapal").attempt
        second = PaymentAttempt.objects.create(
            invoice=invoice,
            gateway="azampay",
            merchant_reference=f"{first.merchant_reference}-2",
            amount=first.amount,
            currency=first.currency,
        )
        with transaction.atomic():
            found = invoice_lock(attempt_id=second.pk)
            hinted = invoice_lock(attempt_id=second.pk, invoice_id=invoice.pk)
        for books in (found, hinted):
            assert books.attempt.pk == second.pk
            assert [a.pk for a in books.attempts] == [first.pk, second.pk]
            assert books.invoice.pk == invoice.pk
            assert all(a.invoice is books.invoice for a in books.attempts)

    def test_a_wrong_hint_finds_no_attempt(self, db, pesapal):
        attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
        other = issued_invoice(email="someone.else@example.co.tz")
        with transaction.atomic(), pytest.raises(PaymentAttempt.DoesNotExist):
            invoice_lock(attempt_id=attempt.pk, invoice_id=other.pk)

    def test_only_inside_a_transaction(self, transactional_db, pesapal):
        attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
        with pytest.raises(RuntimeError, match="inside a transaction"):
            invoice_lock(attempt_id=attempt.pk, invoice_id=attempt.invoice_id)
