"""Reads about invoices: the ledger's net, the public lookup, the status JSON, the page state."""

from decimal import Decimal

import pytest

from wetech.models import Client, Invoice, InvoiceLine, LedgerEntry, PaymentAttempt
from wetech.sales.invoicing import invoice_issue
from wetech.sales.selectors import invoice_net_paid

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind


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
