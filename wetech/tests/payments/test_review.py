"""Review cases: opened by settlement whenever a payment needs a person, resolved by staff with
accept, refund or dismiss; the invoice follows from the ledger, the trail keeps the decision."""

import json
from decimal import Decimal

import pytest
from django.test import RequestFactory

from wetech.models import AuditEntry, Invoice, LedgerEntry, PaymentAttempt, Refund, ReviewCase
from wetech.ops.integrity import integrity_audit
from wetech.payments.books import review_case_open
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.refunds import RefundNotAllowed, refund_request
from wetech.payments.review import ReviewDecisionNotAllowed, review_case_resolve
from wetech.payments.start import payment_start
from wetech.sales.selectors import invoice_balance_due, invoice_status_payload
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

Status = PaymentAttempt.Status
Kind = ReviewCase.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _each_notification_asks(settings):
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0


def ipn(attempt):
    request = RequestFactory().get(
        "/payments/pesapal/ipn/",
        {
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
        },
    )
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)
    return notification_process(notification=notification, bypass_window=True)


def azampay_started(invoice):
    return payment_start(
        invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt


def azampay_paid(attempt):
    request = RequestFactory().post(
        "/payments/azampay/callback/x/",
        json.dumps(azampay_callback_body(attempt)),
        content_type="application/json",
    )
    notification = notification_record(gateway="azampay", kind="callback", request=request)
    notification_process(notification=notification)
    attempt.refresh_from_db()
    return attempt


def paid_twice(pesapal, *, first: str):
    """Both gateways started, then both paid, `first` first; returns (invoice, pesapal, azampay)."""
    invoice = issued_invoice()
    pesapal_attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    azampay_attempt = azampay_started(invoice)
    pesapal.answer(pesapal_attempt, PaymentStatus.COMPLETED)
    if first == "pesapal":
        ipn(pesapal_attempt)
        azampay_paid(azampay_attempt)
    else:
        azampay_paid(azampay_attempt)
        ipn(pesapal_attempt)
    pesapal_attempt.refresh_from_db()
    azampay_attempt.refresh_from_db()
    return invoice, pesapal_attempt, azampay_attempt


def mismatched(pesapal, **said):
    """A Pesapal payment whose completion does not match the attempt."""
    invoice = issued_invoice()
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    pesapal.answer(attempt, PaymentStatus.COMPLETED, payment_method="Visa", **said)
    ipn(attempt)
    attempt.refresh_from_db()
    assert attempt.status == Status.NEEDS_REVIEW
    return invoice, attempt, ReviewCase.objects.get(attempt=attempt)


def actions():
    return list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))


class TestOpenedBySettlement:
    def test_a_mismatch_opens_a_case_with_what_the_gateway_said_and_what_we_expected(self, pesapal):
        invoice, attempt, case = mismatched(pesapal, amount=Decimal("200000.00"))

        assert (case.kind, case.status, case.invoice) == (Kind.MISMATCH, "open", invoice)
        assert case.summary == (
            f"{attempt.merchant_reference}: amount 200000.00 instead of 413000.00"
        )
        said = dict(case.gateway_said)
        assert said.pop("detail") == ""  # the fake client gives no description
        assert said == {
            "status": "completed",
            "amount": "200000.00",
            "currency": "TZS",
            "merchant_reference": attempt.merchant_reference,
            "gateway_reference": attempt.gateway_reference,
            "confirmation_code": "PSP123ABC",
            "payment_method": "Visa",
        }
        assert case.expected == {
            "amount": "413000.00",
            "currency": "TZS",
            "merchant_reference": attempt.merchant_reference,
            "gateway_reference": attempt.gateway_reference,
        }
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.data["case"]) == (
            "review_opened",
            "system",
            case.pk,
        )

    def test_one_open_case_per_attempt_and_kind(self, pesapal):
        _, attempt, case = mismatched(pesapal, amount=Decimal("1.00"))
        assert review_case_open(attempt=attempt, kind=Kind.MISMATCH, summary="again") is None
        assert ReviewCase.objects.get() == case
        # Another kind on the same attempt is another case.
        assert review_case_open(attempt=attempt, kind=Kind.PAID_TWICE, summary="x") is not None


class TestAccept:
    def test_a_short_payment_is_credited_as_it_was_and_the_balance_is_asked_next(
        self, pesapal, client
    ):
        invoice, attempt, case = mismatched(pesapal, amount=Decimal("200000.00"))

        review_case_resolve(
            case=case, decision="accept", reason="Customer paid part, agreed", actor="amina"
        )

        case.refresh_from_db()
        attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert (case.status, case.decision, case.resolved_by) == ("resolved", "accept", "amina")
        assert case.resolution_reason == "Customer paid part, agreed"
        assert attempt.status == Status.COMPLETED
        assert attempt.status_detail == "Booked by amina as received: 200000.00 TZS"
        entry = LedgerEntry.objects.get()
        assert (entry.kind, entry.amount, entry.currency) == ("payment", Decimal("200000"), "TZS")
        assert invoice.status == Invoice.Status.ISSUED
        assert invoice_status_payload(invoice)["amount_paid"] == "200000.00"
        assert invoice_balance_due(invoice) == Decimal("213000.00")
        assert actions()[-1] == "review_accepted"

        # The page asks for the balance, and so does the next payment, which settles it.
        page = client.get(invoice.get_absolute_url()).content.decode()
        assert "Pay TZS 213,000 <span" in page and "(what is left of TZS 413,000)" in page
        balance = payment_start(invoice=invoice, gateway="pesapal").attempt
        assert balance.amount == Decimal("213000.00")
        assert pesapal.orders[-1].amount == Decimal("213000.00")
        pesapal.answer(balance, PaymentStatus.COMPLETED)
        ipn(balance)
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert integrity_audit() == []

    def test_money_in_another_currency_cannot_be_accepted(self, pesapal):
        _, _, case = mismatched(pesapal, currency="USD")

        with pytest.raises(ReviewDecisionNotAllowed) as refused:
            review_case_resolve(case=case, decision="accept", reason="ok", actor="amina")

        assert str(refused.value) == (
            "only money in the invoice's currency (TZS) can be accepted; this payment came in "
            "USD: refund it"
        )
        case.refresh_from_db()
        assert case.is_open
        assert not LedgerEntry.objects.exists()

    def test_money_paid_twice_may_be_kept(self, pesapal, azampay):
        _, pesapal_attempt, first = paid_twice(pesapal, first="azampay")
        case = ReviewCase.objects.get(kind=Kind.PAID_TWICE)

        review_case_resolve(
            case=case, decision="accept", reason="Credit for next month", actor="amina"
        )

        pesapal_attempt.refresh_from_db()
        assert not pesapal_attempt.needs_refund
        # A later money event does not flag it again: staff decided to keep it.
        refund_request(attempt=first, amount="1000", reason="x", actor="amina", reference="MP1")
        pesapal_attempt.refresh_from_db()
        assert not pesapal_attempt.needs_refund
        assert not ReviewCase.objects.filter(status="open").exists()
        assert actions().count("flag_cleared") == 0


class TestRefund:
    def test_money_in_another_currency_is_booked_as_it_was_and_given_back(
        self, pesapal, django_capture_on_commit_callbacks
    ):
        invoice, attempt, case = mismatched(pesapal, currency="USD", amount=Decimal("160.00"))

        review_case_resolve(case=case, decision="refund", reason="Wrong currency", actor="amina")

        refund = Refund.objects.get()
        assert (refund.amount, refund.currency, refund.status) == (
            Decimal("160.00"),
            "USD",
            "requested",
        )
        assert pesapal.refunds[-1]["amount"] == Decimal("160.00")
        entry = LedgerEntry.objects.get()
        assert (entry.kind, entry.amount, entry.currency) == ("payment", Decimal("160"), "USD")
        invoice.refresh_from_db()
        # Money in USD never counts for a TZS invoice: it can be paid properly.
        assert invoice.status == Invoice.Status.ISSUED
        assert integrity_audit() == []

        pesapal.answer(attempt, PaymentStatus.REVERSED, currency="USD", amount=Decimal("160.00"))
        with django_capture_on_commit_callbacks(execute=True):
            ipn(attempt)
        refund.refresh_from_db()
        assert refund.status == "completed"
        assert sorted(LedgerEntry.objects.values_list("kind", "currency")) == [
            ("payment", "USD"),
            ("refund", "USD"),
        ]
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert [m for m in delivered() if m.subject.startswith("Refund:")]
        assert integrity_audit() == []

    def test_money_paid_twice_is_refunded_by_the_staff_who_decided(self, pesapal, azampay):
        invoice, _, second = paid_twice(pesapal, first="pesapal")
        case = ReviewCase.objects.get(kind=Kind.PAID_TWICE)

        review_case_resolve(
            case=case, decision="refund", reason="Paid twice", actor="amina", reference="MP42"
        )

        case.refresh_from_db()
        second.refresh_from_db()
        assert (case.decision, case.resolved_by) == ("refund", "amina")
        assert not second.needs_refund
        refund = Refund.objects.get()
        assert (refund.status, refund.external_reference) == ("completed", "MP42")
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert invoice_status_payload(invoice)["amount_paid"] == "413000.00"
        assert actions()[-2:] == ["refund_recorded", "review_refunded"]
        assert integrity_audit() == []

    def test_a_refund_that_cannot_be_made_leaves_the_case_open(self, pesapal, azampay):
        paid_twice(pesapal, first="pesapal")
        case = ReviewCase.objects.get(kind=Kind.PAID_TWICE)

        with pytest.raises(RefundNotAllowed, match="AzamPay has no refund API"):
            review_case_resolve(case=case, decision="refund", reason="x", actor="amina")

        case.refresh_from_db()
        assert case.is_open
        assert not Refund.objects.exists()


class TestDismissAndRefusals:
    def test_a_chargeback_is_dismissed_once_handled_and_the_invoice_can_be_paid_again(
        self, pesapal
    ):
        invoice = issued_invoice()
        attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        ipn(attempt)
        pesapal.answer(attempt, PaymentStatus.REVERSED)
        ipn(attempt)
        case = ReviewCase.objects.get(kind=Kind.REVERSAL)
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.NEEDS_REVIEW

        for decision in ("accept", "refund"):
            with pytest.raises(ReviewDecisionNotAllowed, match="a chargeback"):
                review_case_resolve(case=case, decision=decision, reason="x", actor="amina")
        review_case_resolve(
            case=case, decision="dismiss", reason="Customer disputed; lost", actor="amina"
        )

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert invoice_balance_due(invoice) == Decimal("413000.00")
        assert actions()[-1] == "review_dismissed"
        with pytest.raises(ReviewDecisionNotAllowed) as refused:
            review_case_resolve(case=case, decision="dismiss", reason="x", actor="bob")
        assert str(refused.value) == f"case {case.pk} is already resolved (dismiss by amina)"

    def test_a_dismissed_mismatch_credits_nothing(self, pesapal):
        invoice, attempt, case = mismatched(pesapal, amount=Decimal("1.00"))

        review_case_resolve(
            case=case, decision="dismiss", reason="Test payment by us", actor="amina"
        )

        attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()
        assert invoice.status == Invoice.Status.ISSUED

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"decision": "keep"}, "unknown decision 'keep'"),
            ({"reason": " "}, "a decision needs a reason"),
            ({"actor": ""}, "a decision needs the name of who takes it"),
        ],
    )
    def test_a_decision_needs_a_known_word_a_reason_and_a_name(self, pesapal, changes, message):
        _, _, case = mismatched(pesapal, amount=Decimal("1.00"))
        values = {"case": case, "decision": "dismiss", "reason": "r", "actor": "amina"}
        with pytest.raises(ReviewDecisionNotAllowed, match=message):
            review_case_resolve(**{**values, **changes})
