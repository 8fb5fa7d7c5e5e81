"""Reads about invoices: the ledger's net, the public lookup, the status JSON, the page state and
what the invoice document (page and PDF) shows."""

from decimal import Decimal

import pytest
from django.utils import timezone

from wetech.models import (
    Client,
    CreditNote,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PaymentAttempt,
    Refund,
)
from wetech.sales.invoicing import invoice_issue
from wetech.sales.selectors import (
    invoice_attempts_latest,
    invoice_document,
    invoice_net_paid,
    invoice_payment_state,
    invoice_public_get,
    invoice_status_payload,
)

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
AttemptStatus = PaymentAttempt.Status


def _issued(*, unit_price=Decimal("350000"), currency="TZS") -> Invoice:
    """TZS 350,000 + 18% VAT = 413,000.00."""
    client, _ = Client.objects.get_or_create(
        email="asha@example.co.tz", defaults={"name": "Asha", "phone": "+255712345678"}
    )
    invoice = Invoice.objects.create(
        client=client,
        client_name="Asha",
        client_email="asha@example.co.tz",
        client_phone="+255712345678",
        currency=currency,
        tax_rate=Decimal("0.18"),
    )
    InvoiceLine.objects.create(invoice=invoice, description="Website", unit_price=unit_price)
    return invoice_issue(invoice=invoice)


def _attempt(invoice: Invoice, *, suffix="A", **fields) -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-{suffix}",
        amount=invoice.total,
        currency=invoice.currency,
        **fields,
    )


def _book(attempt: PaymentAttempt, kind: str, amount: str, currency: str = "TZS") -> None:
    LedgerEntry.objects.create(
        invoice_id=attempt.invoice_id,
        attempt=attempt,
        kind=kind,
        amount=Decimal(amount),
        currency=currency,
        gateway=attempt.gateway,
        gateway_reference=f"{attempt.merchant_reference}-{kind}-{currency}-{amount}",
    )


class TestNetPaid:
    def test_nothing_booked_is_zero(self):
        assert invoice_net_paid(_issued()) == Decimal("0.00")

    def test_payments_less_reversals_and_refunds_in_the_invoice_currency(
        self, django_assert_num_queries
    ):
        invoice = _issued()
        attempt = _attempt(invoice)
        _book(attempt, Kind.PAYMENT, "413000.00")
        _book(attempt, Kind.PAYMENT, "1000.00")
        _book(attempt, Kind.REVERSAL, "1000.00")
        _book(attempt, Kind.REFUND, "13000.00")
        _book(attempt, Kind.PAYMENT, "500.00", currency="KES")

        with django_assert_num_queries(1):
            net = invoice_net_paid(invoice)

        assert net == Decimal("400000.00")
        assert str(net) == "400000.00"  # cents, whatever the database's arithmetic

    def test_cents_added_by_the_database_come_back_exact(self):
        """SQLite adds decimals in floating point: 100.10 + 100.20 is a hair off 200.30."""
        invoice = _issued()
        attempt = _attempt(invoice)
        _book(attempt, Kind.PAYMENT, "100.10")
        _book(attempt, Kind.PAYMENT, "100.20")

        assert str(invoice_net_paid(invoice)) == "200.30"


class TestPublicLookup:
    def test_an_issued_invoice_is_found_by_its_token(self, django_assert_num_queries):
        invoice = _issued()
        with django_assert_num_queries(1):
            found = invoice_public_get(token=invoice.token)
            assert found.client.email == "asha@example.co.tz"  # fetched with the invoice
        assert found == invoice

    def test_a_draft_or_an_unknown_token_is_nothing(self):
        draft = Invoice.objects.create(
            client=_issued().client,
            client_name="Asha",
            client_email="asha@example.co.tz",
            client_phone="+255712345678",
        )
        assert invoice_public_get(token=draft.token) is None
        assert invoice_public_get(token="no-such-token") is None


class TestStatusPayload:
    def test_an_unpaid_invoice_matches_the_contract(self):
        invoice = _issued()
        assert invoice_status_payload(invoice) == {
            "number": invoice.number,
            "status": "issued",
            "total": "413000.00",
            "currency": "TZS",
            "amount_paid": "0.00",
            "payments": [],
        }

    def test_attempts_newest_first_and_what_the_ledger_holds(self):
        invoice = _issued()
        failed = _attempt(invoice, suffix="A", status=AttemptStatus.FAILED)
        completed = _attempt(invoice, suffix="B", status=AttemptStatus.COMPLETED)
        _book(completed, Kind.PAYMENT, "413000.00")
        _book(completed, Kind.REFUND, "3000.00")

        payload = invoice_status_payload(invoice)

        assert payload["amount_paid"] == "410000.00"
        assert payload["payments"] == [
            {
                "gateway": "pesapal",
                "status": "completed",
                "reference": completed.merchant_reference,
            },
            {"gateway": "pesapal", "status": "failed", "reference": failed.merchant_reference},
        ]

    def test_at_most_twenty_attempts(self):
        invoice = _issued()
        for n in range(22):
            _attempt(invoice, suffix=f"{n:02d}", status=AttemptStatus.FAILED)
        references = [p["reference"] for p in invoice_status_payload(invoice)["payments"]]
        assert references == [f"{invoice.number}-{n:02d}" for n in range(21, 1, -1)]


class TestPaymentState:
    def test_no_attempt_yet(self):
        invoice = _issued()
        assert invoice_payment_state(invoice) == {
            "latest_attempt": None,
            "waiting": False,
            "failed": False,
            "balance_due": invoice.total,
        }

    @pytest.mark.parametrize(
        ("status", "waiting", "failed"),
        [
            (AttemptStatus.PENDING, True, False),
            (AttemptStatus.INITIATED, True, False),
            (AttemptStatus.FAILED, False, True),
            (AttemptStatus.EXPIRED, False, True),
            (AttemptStatus.CANCELLED, False, False),
            (AttemptStatus.NEEDS_REVIEW, False, False),
        ],
    )
    def test_the_latest_attempt_decides_waiting_or_failed(self, status, waiting, failed):
        invoice = _issued()
        _attempt(invoice, suffix="OLD", status=AttemptStatus.FAILED)
        latest = _attempt(invoice, suffix="NEW", status=status)
        state = invoice_payment_state(invoice)
        assert (state["latest_attempt"], state["waiting"], state["failed"]) == (
            latest,
            waiting,
            failed,
        )

    def test_it_reads_the_attempts_it_is_given(self, django_assert_num_queries):
        invoice = _issued()
        latest = _attempt(invoice, status=AttemptStatus.PENDING)
        attempts = invoice_attempts_latest(invoice)
        with django_assert_num_queries(0):
            assert invoice_payment_state(invoice, attempts=attempts)["latest_attempt"] == latest


def _refund(attempt: PaymentAttempt, *, amount="100000.00", status=Refund.Status.COMPLETED, **kw):
    return Refund.objects.create(
        invoice_id=attempt.invoice_id,
        attempt=attempt,
        reference=f"RF-{attempt.merchant_reference}-{amount}",
        amount=Decimal(amount),
        currency=attempt.currency,
        method=Refund.Method.MANUAL,
        status=status,
        reason="Customer asked",
        requested_by="finance",
        completed_at=timezone.now() if status == Refund.Status.COMPLETED else None,
        **kw,
    )


class TestDocument:
    def test_the_receipt_is_the_completed_attempt_not_to_be_refunded_of_a_paid_invoice(self):
        invoice = _issued()
        paid_by = _attempt(invoice, suffix="A", status=AttemptStatus.COMPLETED)
        _attempt(invoice, suffix="B", status=AttemptStatus.COMPLETED, needs_refund=True)
        assert invoice_document(invoice)["receipt"] is None  # not paid yet

        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID)
        invoice.refresh_from_db()

        assert invoice_document(invoice)["receipt"] == paid_by

    def test_a_refunded_invoice_keeps_its_receipt_and_lists_completed_refunds_with_notes(self):
        invoice = _issued()
        paid_by = _attempt(invoice, status=AttemptStatus.COMPLETED)
        done = _refund(paid_by, amount="413000.00")
        note = CreditNote.objects.create(
            number="CN-2026-00001",
            invoice=invoice,
            refund=done,
            amount=done.amount,
            currency="TZS",
            issued_at=timezone.now(),
        )
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REFUNDED)
        invoice.refresh_from_db()

        document = invoice_document(invoice)

        assert document["receipt"] == paid_by
        assert document["refunds"] == [done]
        assert document["refunds"][0].credit_note == note
        assert [line.description for line in document["lines"]] == ["Website"]

    def test_a_refund_still_in_flight_is_not_on_the_document(self):
        invoice = _issued()
        paid_by = _attempt(invoice, status=AttemptStatus.COMPLETED)
        _refund(paid_by, status=Refund.Status.REQUESTED)
        assert invoice_document(invoice)["refunds"] == []

    def test_an_invoice_without_attempts_reads_only_its_lines(self, django_assert_num_queries):
        invoice = _issued()
        with django_assert_num_queries(2):  # the attempts, the lines: no refund to look for
            document = invoice_document(invoice)
        assert (document["receipt"], document["refunds"]) == (None, [])
        with django_assert_num_queries(1):
            invoice_document(invoice, attempts=[])
