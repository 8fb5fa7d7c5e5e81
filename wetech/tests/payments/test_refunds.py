"""Refunds: requested through a gateway's refund API (Pesapal) and completed when the gateway
reports the payment reversed, or recorded as made by hand (AzamPay); credit notes; refusals.

The gateways run for real behind in-memory clients (payment_helpers); news arrives through the
real inbox and settlement.
"""

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from sandbox.testing import pesapal_refund_approve
from wetech.models import (
    AuditEntry,
    CreditNote,
    GatewayNotification,
    Invoice,
    LedgerEntry,
    PaymentAttempt,
    Refund,
    ReviewCase,
)
from wetech.ops.integrity import integrity_audit
from wetech.payments.gateways.base import (
    GatewayOutcomeUnknown,
    GatewayRejected,
    GatewayUnavailable,
    PaymentStatus,
)
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.reconcile import attempts_reconcile
from wetech.payments.refunds import RefundNotAllowed, refund_request
from wetech.payments.start import payment_start
from wetech.sales.selectors import invoice_net_paid, invoice_status_payload
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import azampay_callback_body, configure_gateways, issued_invoice

Status = PaymentAttempt.Status
TOTAL = Decimal("413000.00")


@pytest.fixture(autouse=True)
def _each_notification_asks(settings):
    # Each notification here comes long after the one before: further apart than the window.
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


def azampay_callback(body):
    request = RequestFactory().post(
        "/payments/azampay/callback/x/", json.dumps(body), content_type="application/json"
    )
    notification = notification_record(gateway="azampay", kind="callback", request=request)
    return notification_process(notification=notification)


def paid_by_pesapal(pesapal, invoice=None, **answer) -> PaymentAttempt:
    invoice = invoice or issued_invoice()
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    pesapal.answer(attempt, PaymentStatus.COMPLETED, **answer)
    ipn(attempt)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    return attempt


def paid_by_azampay(invoice=None) -> PaymentAttempt:
    invoice = invoice or issued_invoice()
    attempt = payment_start(
        invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt
    azampay_callback(azampay_callback_body(attempt))
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    return attempt


def actions(**filters):
    return list(
        AuditEntry.objects.filter(**filters).order_by("pk").values_list("action", flat=True)
    )


def refund_emails():
    return [m for m in delivered() if m.subject.startswith("Refund:")]


@pytest.mark.django_db
class TestPesapalRefund:
    def test_request_is_recorded_then_sent_and_waits_for_the_reversal(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")

        refund = refund_request(
            attempt=attempt, reason="Customer cancelled the project", actor="amina"
        )

        assert (refund.status, refund.method) == (Refund.Status.REQUESTED, Refund.Method.GATEWAY)
        assert (refund.amount, refund.currency) == (TOTAL, "TZS")
        assert refund.reference.startswith(f"{attempt.invoice.number}-RF")
        assert refund.requested_by == "amina"
        assert refund.gateway_message == "Refund request successfully"
        assert pesapal.refunds == [
            {
                "confirmation_code": "PSP123ABC",
                "amount": TOTAL,
                "username": "amina",
                "remarks": "Customer cancelled the project",
            }
        ]
        # Nothing moved in the ledger yet: "200" only means queued.
        assert not LedgerEntry.objects.filter(kind="refund").exists()
        assert Invoice.objects.get().status == Invoice.Status.PAID
        entries = AuditEntry.objects.filter(attempt=attempt).order_by("pk")
        assert [(e.action, e.actor, e.data["step"]) for e in entries] == [
            ("refund_requested", "amina", "recorded, to be sent to Pesapal"),
            ("refund_requested", "amina", "queued by Pesapal"),
        ]
        assert entries[0].data["amount"] == "413000.00"

    def test_the_reversal_completes_it_once_with_a_credit_note(
        self, pesapal, django_capture_on_commit_callbacks
    ):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        refund = refund_request(attempt=attempt, reason="Cancelled (staff note)", actor="amina")
        pesapal.answer(attempt, PaymentStatus.REVERSED)

        with django_capture_on_commit_callbacks(execute=True):
            first = ipn(attempt)
            again = ipn(attempt)

        assert (first.result, again.result) == ("applied", "duplicate")
        refund.refresh_from_db()
        attempt.refresh_from_db()
        invoice = Invoice.objects.get()
        assert refund.status == Refund.Status.COMPLETED and refund.completed_at is not None
        assert attempt.status == Status.REVERSED
        assert attempt.status_detail == f"Refunded: {refund.reference} (413000.00 TZS)"
        assert sorted(LedgerEntry.objects.values_list("kind", "gateway_reference")) == [
            ("payment", attempt.gateway_reference),
            ("refund", refund.reference),
        ]
        assert invoice.status == Invoice.Status.REFUNDED
        assert invoice_status_payload(invoice)["amount_paid"] == "0.00"
        note = CreditNote.objects.get()
        assert note.number == f"CN-{note.issued_at.year}-00001"
        assert (note.refund, note.amount, note.invoice) == (refund, TOTAL, invoice)
        # A refund, not a chargeback: no reversal entry, no review case, no alert.
        assert not ReviewCase.objects.exists()
        assert [m for m in delivered() if m.subject.startswith("Action needed")] == []
        (email,) = refund_emails()
        assert email.to == ["asha@example.co.tz"]
        assert note.number in email.subject and note.number in email.body
        assert "TZS 413,000" in email.body
        assert note.reason == f"Refund of payment {attempt.merchant_reference}"
        assert note.reason in email.body
        # Staff's reason stays in the back office.
        assert "staff note" not in email.body
        assert actions(attempt=attempt)[-1] == "refund_completed"
        completed = AuditEntry.objects.get(action="refund_completed")
        assert (completed.actor, completed.data["credit_note"]) == ("system", note.number)
        assert integrity_audit() == []

    def test_a_partial_card_refund_keeps_the_invoice_paid(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        refund_request(attempt=attempt, amount=Decimal("13000"), reason="Discount", actor="amina")
        pesapal.answer(attempt, PaymentStatus.REVERSED)

        ipn(attempt)

        invoice = Invoice.objects.get()
        assert invoice.status == Invoice.Status.PAID
        assert invoice_net_paid(invoice) == Decimal("400000.00")
        assert CreditNote.objects.get().amount == Decimal("13000.00")

    def test_mobile_money_through_pesapal_is_refunded_in_full_only(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="MpesaTZ")

        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, amount="200000", reason="Part", actor="amina")

        assert str(refused.value) == (
            "Pesapal refunds a mobile-money payment (MpesaTZ) in full only: "
            "413000.00, not 200000.00"
        )
        assert not Refund.objects.exists() and pesapal.refunds == []
        assert refund_request(attempt=attempt, reason="All of it", actor="amina").amount == TOTAL

    def test_one_pesapal_refund_per_payment(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        refund_request(attempt=attempt, amount="1000", reason="First", actor="amina")
        pesapal.answer(attempt, PaymentStatus.REVERSED)
        ipn(attempt)
        # The attempt is reversed now; and were it not, Pesapal's own rule would refuse.
        with pytest.raises(RefundNotAllowed, match=r"was already refunded \(.*, 1000.00 TZS\)$"):
            refund_request(attempt=attempt, amount="1000", reason="Second", actor="amina")
        PaymentAttempt.objects.filter(pk=attempt.pk).update(status=Status.COMPLETED)
        with pytest.raises(
            RefundNotAllowed, match=r"^Pesapal refunds a payment once, and this one already has"
        ):
            refund_request(attempt=attempt, amount="1000", reason="Second", actor="amina")
        assert len(pesapal.refunds) == 1

    def test_a_refusal_marks_the_refund_rejected_and_a_new_request_may_follow(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        pesapal.refund_error = GatewayRejected("Refund amount is not valid", gateway="pesapal")

        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, reason="Cancelled", actor="amina")

        assert str(refused.value) == "Pesapal refused the refund: Refund amount is not valid"
        refund = Refund.objects.get()
        assert refund.status == Refund.Status.REJECTED
        assert refund.gateway_message == "Refund amount is not valid"
        assert actions(attempt=attempt) == ["refund_requested", "refund_rejected"]
        # A rejected refund is no refund: the payment may be refunded again.
        pesapal.refund_error = None
        assert refund_request(attempt=attempt, reason="Again", actor="amina").status == "requested"

    def test_an_unreachable_gateway_refunds_nothing(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        pesapal.refund_error = GatewayUnavailable("down", gateway="pesapal")

        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, reason="Cancelled", actor="amina")

        assert str(refused.value) == (
            "Pesapal could not be asked (GatewayUnavailable): nothing was refunded, try again later"
        )
        assert Refund.objects.get().status == Refund.Status.REJECTED

    def test_a_lost_answer_leaves_the_refund_in_flight(self, pesapal):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        pesapal.refund_error = GatewayOutcomeUnknown("read timeout", gateway="pesapal")

        refund = refund_request(attempt=attempt, reason="Cancelled", actor="amina")

        assert refund.status == Refund.Status.REQUESTED
        assert refund.gateway_message == (
            "Pesapal's answer was lost (GatewayOutcomeUnknown); waiting for its status"
        )
        with pytest.raises(RefundNotAllowed, match=f"refund {refund.reference} of payment .* is"):
            refund_request(attempt=attempt, reason="Again", actor="amina")

    def test_a_reversal_arriving_before_the_answer_is_not_undone(self, pesapal):
        """The sandbox (and maybe Pesapal) can report the reversal while RefundRequest is still
        answering: the refund completes, and the late "refused" cannot reject it."""
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")

        def reversed_then_refused(**request):
            pesapal.answer(attempt, PaymentStatus.REVERSED)
            ipn(attempt)
            raise GatewayRejected("late", gateway="pesapal")

        pesapal.refund = reversed_then_refused
        with pytest.raises(RefundNotAllowed):
            refund_request(attempt=attempt, reason="Cancelled", actor="amina")

        assert Refund.objects.get().status == Refund.Status.COMPLETED
        assert Invoice.objects.get().status == Invoice.Status.REFUNDED


@pytest.mark.django_db
class TestRefusals:
    def test_only_a_completed_payment_can_be_refunded(self, pesapal):
        attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, reason="x", actor="amina")
        assert str(refused.value) == (
            f"payment {attempt.merchant_reference} is pending: only a completed payment can be "
            "refunded"
        )

    @pytest.mark.parametrize(
        ("amount", "reason"),
        [
            ("0", "a refund must be more than nothing"),
            ("-5", "a refund must be more than nothing"),
            ("413000.01", "413000.01 TZS is more than what is left of payment {ref}: 413000.00"),
            ("1.001", "1.001 has more than two decimals"),
            ("lots", "'lots' is not an amount of money"),
        ],
    )
    def test_amounts(self, pesapal, amount, reason):
        attempt = paid_by_pesapal(pesapal, payment_method="Visa")
        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, amount=amount, reason="x", actor="amina")
        expected = reason.format(ref=attempt.merchant_reference)
        assert str(refused.value) == (expected + " TZS" if "left" in reason else expected)
        assert not Refund.objects.exists()

    def test_what_is_left_after_a_manual_refund_is_the_limit(self, azampay):
        attempt = paid_by_azampay()
        refund_request(
            attempt=attempt, amount="13000", reason="Discount", actor="amina", reference="MP1"
        )
        with pytest.raises(RefundNotAllowed, match=r"is more than what is left of .*: 400000\.00"):
            refund_request(
                attempt=attempt, amount="400001", reason="x", actor="amina", reference="MP2"
            )

    def test_a_reason_and_an_actor_are_required(self, pesapal):
        attempt = paid_by_pesapal(pesapal)
        with pytest.raises(RefundNotAllowed, match="a refund needs a reason"):
            refund_request(attempt=attempt, reason="  ", actor="amina")
        with pytest.raises(RefundNotAllowed, match="needs the name of who asks"):
            refund_request(attempt=attempt, reason="x", actor="")

    def test_a_pesapal_payment_without_a_confirmation_code(self, pesapal):
        attempt = paid_by_pesapal(pesapal, confirmation_code="")
        with pytest.raises(RefundNotAllowed, match="Pesapal gave no confirmation code"):
            refund_request(attempt=attempt, reason="x", actor="amina")

    def test_a_reference_is_only_for_a_refund_made_by_hand(self, pesapal):
        attempt = paid_by_pesapal(pesapal)
        with pytest.raises(RefundNotAllowed, match="a reference is only for a refund made by"):
            refund_request(attempt=attempt, reason="x", actor="amina", reference="MP1")


@pytest.mark.django_db
class TestManualRefund:
    def test_azampay_needs_the_reference_of_the_transfer(self, azampay):
        attempt = paid_by_azampay()
        with pytest.raises(RefundNotAllowed) as refused:
            refund_request(attempt=attempt, reason="Cancelled", actor="amina")
        assert str(refused.value) == (
            "AzamPay has no refund API: send the money back by hand, then record it with the "
            "reference of that transfer"
        )
        assert not Refund.objects.exists()

    def test_a_refund_made_by_hand_completes_at_once(
        self, azampay, django_capture_on_commit_callbacks
    ):
        attempt = paid_by_azampay()

        with django_capture_on_commit_callbacks(execute=True):
            refund = refund_request(
                attempt=attempt, reason="Cancelled", actor="amina", reference=" MP240501AB "
            )

        assert (refund.status, refund.method) == (Refund.Status.COMPLETED, Refund.Method.MANUAL)
        assert refund.external_reference == "MP240501AB"
        entry = LedgerEntry.objects.get(kind="refund")
        assert (entry.gateway, entry.gateway_reference, entry.amount) == (
            "azampay",
            refund.reference,
            TOTAL,
        )
        attempt.refresh_from_db()
        # The gateway knows nothing of it: the payment stays completed.
        assert attempt.status == Status.COMPLETED
        assert Invoice.objects.get().status == Invoice.Status.REFUNDED
        note = CreditNote.objects.get()
        assert refund_emails()[0].subject == (
            f"Refund: TZS 413,000 for invoice {attempt.invoice.number}, credit note {note.number}"
        )
        assert f"{'Refund reference:':22}MP240501AB" in refund_emails()[0].body
        recorded = AuditEntry.objects.get()
        assert (recorded.action, recorded.actor, recorded.data["external_reference"]) == (
            "refund_recorded",
            "amina",
            "MP240501AB",
        )
        assert integrity_audit() == []

    def test_the_same_transfer_is_not_recorded_twice(self, azampay):
        attempt = paid_by_azampay()
        refund_request(attempt=attempt, amount="1000", reason="x", actor="amina", reference="MP1")
        with pytest.raises(RefundNotAllowed, match="a refund with reference MP1 is already"):
            refund_request(
                attempt=attempt, amount="1000", reason="x", actor="amina", reference="MP1"
            )


@pytest.mark.django_db
def test_credit_notes_are_numbered_gapless_per_year(azampay):
    with time_machine.travel("2026-12-31 20:00:00+03:00", tick=False):
        attempt = paid_by_azampay()
        for reference in ("MP1", "MP2"):
            refund_request(
                attempt=attempt, amount="1000", reason="x", actor="amina", reference=reference
            )
    with time_machine.travel("2027-01-01 08:00:00+03:00", tick=False):
        refund_request(attempt=attempt, amount="1000", reason="x", actor="amina", reference="MP3")
    assert list(CreditNote.objects.order_by("pk").values_list("number", flat=True)) == [
        "CN-2026-00001",
        "CN-2026-00002",
        "CN-2027-00001",
    ]


@pytest.mark.django_db
def test_a_reversal_without_a_refund_in_flight_is_a_chargeback(pesapal):
    attempt = paid_by_pesapal(pesapal, payment_method="Visa")
    pesapal.answer(attempt, PaymentStatus.REVERSED)

    ipn(attempt)

    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["payment", "reversal"]
    assert not Refund.objects.exists() and not CreditNote.objects.exists()
    case = ReviewCase.objects.get()
    assert (case.kind, case.status) == (ReviewCase.Kind.REVERSAL, ReviewCase.Status.OPEN)
    assert case.gateway_said["status"] == "reversed"
    assert case.expected["amount"] == "413000.00"
    assert actions() == ["chargeback", "review_opened"]
    assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_refund", [True, False], ids=["refund", "chargeback"])
def test_a_reversal_delivered_concurrently_applies_once(on_postgres, pesapal, with_refund):
    attempt = paid_by_pesapal(pesapal, payment_method="Visa")
    if with_refund:
        refund_request(attempt=attempt, reason="Cancelled", actor="amina")
    pesapal.answer(attempt, PaymentStatus.REVERSED)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            results.append(ipn(attempt).result)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results) == ["applied"] + ["duplicate"] * 7
    kinds = sorted(LedgerEntry.objects.values_list("kind", flat=True))
    if with_refund:
        assert kinds == ["payment", "refund"]
        assert CreditNote.objects.count() == 1
        assert len(refund_emails()) == 1
        assert Invoice.objects.get().status == Invoice.Status.REFUNDED
    else:
        assert kinds == ["payment", "reversal"]
        assert ReviewCase.objects.count() == 1
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW


# --- end to end against the Pesapal simulator, over real HTTP -------------------------------------


@pytest.fixture
def simulator(live_server, settings):
    configure_gateways(settings, live_server.url)
    settings.ALLOWED_HOSTS = ["*"]
    # Pesapal's approval comes days after our last question; here it comes within seconds, so
    # its IPN must not be answered from the status window.
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
    reset_gateway_clients()
    yield live_server.url
    reset_gateway_clients()


def wait_for(predicate, seconds=15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def ipns_handled() -> int:
    return GatewayNotification.objects.filter(kind="ipn").exclude(result="received").count()


@pytest.mark.django_db(transaction=True)
def test_a_pesapal_refund_end_to_end_through_the_simulators_approval(simulator):
    """Request -> merchant's approval -> IPN "REVERSED" -> REFUND in the ledger -> invoice
    refunded, exactly once though the reversal arrives again (IPN resent, reconciler)."""
    invoice = issued_invoice()
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    hosted = requests.post(attempt.redirect_url, data={"action": "pay"}, timeout=30)
    assert hosted.status_code == 200
    assert wait_for(lambda: ipns_handled() == 1)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    assert Invoice.objects.get().status == Invoice.Status.PAID

    refund = refund_request(attempt=attempt, reason="Project cancelled", actor="amina")

    # Queued, not done: Pesapal still calls the payment completed until the merchant approves.
    assert refund.status == Refund.Status.REQUESTED
    assert refund.gateway_message == "Refund request successfully"
    report = attempts_reconcile(now=timezone.now() + timedelta(hours=1))
    assert (report.checked, report.changed) == (1, 0)
    assert not LedgerEntry.objects.filter(kind="refund").exists()

    pesapal_refund_approve(attempt.confirmation_code)

    assert wait_for(lambda: ipns_handled() == 2)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.COMPLETED
    assert Invoice.objects.get().status == Invoice.Status.REFUNDED

    # The reversal again: Pesapal resends its IPN, and the reconciler asks.
    again = requests.get(
        f"{simulator}/payments/pesapal/ipn/",
        params={
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        },
        timeout=30,
    )
    assert again.status_code == 200 and again.json()["status"] == 200
    assert GatewayNotification.objects.order_by("-pk").first().result == "duplicate"
    attempts_reconcile(now=timezone.now() + timedelta(days=1))

    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["payment", "refund"]
    assert LedgerEntry.objects.get(kind="refund").gateway_reference == refund.reference
    assert CreditNote.objects.count() == 1
    assert not ReviewCase.objects.exists()
    assert len(refund_emails()) == 1
    assert invoice_status_payload(Invoice.objects.get())["amount_paid"] == "0.00"
    assert integrity_audit() == []
