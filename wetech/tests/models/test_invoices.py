from decimal import Decimal

import pytest

from wetech.models import (
    Client,
    Invoice,
    InvoiceLine,
    InvoiceLocked,
    LedgerEntry,
    PaymentAttempt,
    ReviewCase,
)
from wetech.models.invoices import LedgerTotals
from wetech.money import quantize
from wetech.sales.invoicing import invoice_issue, invoice_totals_compute

pytestmark = pytest.mark.django_db


def _draft(**overrides):
    client, _ = Client.objects.get_or_create(
        email="asha@example.co.tz", defaults={"name": "Asha", "phone": "+255712345678"}
    )
    fields = {
        "client": client,
        "client_name": "Asha",
        "client_email": "asha@example.co.tz",
        "client_phone": "+255712345678",
        "tax_rate": Decimal("0.18"),
        **overrides,
    }
    invoice = Invoice.objects.create(**fields)
    InvoiceLine.objects.create(invoice=invoice, description="Website", unit_price=Decimal("100"))
    return invoice


def test_token_is_long_random_and_unique():
    one = _draft()
    two = Invoice.objects.create(
        client=one.client, client_name="A", client_email="a@example.com", client_phone="+1"
    )
    assert len(one.token) >= 43
    assert one.token != two.token


def test_line_amount_is_quantity_times_price_rounded_half_up():
    invoice = _draft()
    line = InvoiceLine.objects.create(
        invoice=invoice, description="Hours", quantity=Decimal("1.5"), unit_price=Decimal("0.99")
    )
    assert line.amount == Decimal("1.49")  # 1.485 half-up


def test_draft_totals_follow_the_lines():
    invoice = _draft()
    invoice_totals_compute(invoice=invoice)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("100.00"),
        Decimal("18.00"),
        Decimal("118.00"),
    )


@pytest.mark.parametrize("price", ["100.10", "0.07", "1234567.89", "99999.99"])
def test_an_invoice_with_cents_is_issued_on_every_database(price):
    """SQLite sums decimals in floating point: the total check must not refuse exact cents."""
    invoice = _draft()
    InvoiceLine.objects.filter(invoice=invoice).update(unit_price=Decimal(price))
    InvoiceLine.objects.filter(invoice=invoice).update(amount=Decimal(price))

    issued = invoice_issue(invoice=invoice)

    issued.refresh_from_db()
    assert issued.subtotal == Decimal(price)
    assert issued.total == issued.subtotal + issued.tax


def test_a_total_that_is_not_subtotal_plus_tax_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    invoice = _draft()
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(
            subtotal=Decimal("100.00"), tax=Decimal("18.00"), total=Decimal("118.01")
        )


def test_tax_label_shows_the_rate():
    assert _draft(tax_rate=Decimal("0.18")).tax_label == "VAT 18%"


class TestIssuedInvoiceIsImmutable:
    @pytest.fixture
    def issued(self):
        return invoice_issue(invoice=_draft())

    def test_totals_cannot_change(self, issued):
        issued.total = Decimal("1.00")
        issued.subtotal = Decimal("1.00")
        issued.tax = Decimal("0.00")
        with pytest.raises(InvoiceLocked):
            issued.save()
        issued.refresh_from_db()
        assert issued.total == Decimal("118.00")

    def test_a_status_only_save_writes_just_the_status_in_one_query(
        self, issued, django_assert_num_queries
    ):
        issued.status = Invoice.Status.PAID
        issued.total = Decimal("1.00")  # not in update_fields: never written
        with django_assert_num_queries(1):
            issued.save(update_fields=["status", "paid_at", "updated_at"])
        issued.refresh_from_db()
        assert (issued.status, issued.total) == (Invoice.Status.PAID, Decimal("118.00"))

    def test_snapshot_and_number_cannot_change(self, issued):
        issued.client_name = "Someone else"
        with pytest.raises(InvoiceLocked):
            issued.save()
        issued.refresh_from_db()
        issued.number = "WT-2000-00001"
        with pytest.raises(InvoiceLocked):
            issued.save()

    def test_cannot_go_back_to_draft(self, issued):
        issued.status = Invoice.Status.DRAFT
        with pytest.raises(InvoiceLocked):
            issued.save()

    def test_status_and_paid_time_may_move_on(self, issued):
        issued.status = Invoice.Status.PAID
        issued.save()
        assert Invoice.objects.get(pk=issued.pk).status == "paid"

    def test_lines_cannot_be_added_changed_or_deleted(self, issued):
        line = issued.lines.get()
        line.unit_price = Decimal("1")
        with pytest.raises(InvoiceLocked):
            line.save()
        with pytest.raises(InvoiceLocked):
            line.delete()
        with pytest.raises(InvoiceLocked):
            InvoiceLine.objects.create(invoice=issued, description="Extra", unit_price=1)
        with pytest.raises(InvoiceLocked):
            InvoiceLine.objects.filter(invoice=issued).update(unit_price=1)
        with pytest.raises(InvoiceLocked):
            InvoiceLine.objects.filter(invoice=issued).delete()
        assert issued.lines.get().unit_price == Decimal("100.00")

    def test_issued_invoice_cannot_be_deleted(self, issued):
        with pytest.raises(InvoiceLocked):
            issued.delete()
        assert Invoice.objects.filter(pk=issued.pk).exists()


def test_draft_lines_can_still_change():
    invoice = _draft()
    line = invoice.lines.get()
    line.unit_price = Decimal("200")
    line.save()
    line.delete()
    assert not invoice.lines.exists()


# --- Whether money covers an invoice --------------------------------------------------------------


def _ledger(invoice, *entries):
    """Book (kind, amount, currency) entries on `invoice` through one attempt of its own."""
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-TEST",
        amount=invoice.total,
        currency=invoice.currency,
    )
    for position, (kind, amount, currency) in enumerate(entries):
        LedgerEntry.objects.create(
            invoice=invoice,
            attempt=attempt,
            kind=kind,
            amount=Decimal(amount),
            currency=currency,
            gateway="pesapal",
            gateway_reference=f"{invoice.number}-{position}",
        )


@pytest.mark.parametrize(
    ("total", "net", "covered"),
    [
        ("118.00", "118.00", True),
        ("118.00", "118.01", True),  # overpaid is paid (the surplus is a refund question)
        ("118.00", "117.99", False),
        ("118.00", "0.00", False),
        ("118.00", "-5.00", False),
        ("0.00", "0.00", False),  # nothing never covers anything
        ("0.00", "0.01", True),
    ],
)
def test_an_invoice_is_covered_by_a_positive_net_of_at_least_its_total(total, net, covered):
    assert Invoice(total=Decimal(total)).is_covered_by(Decimal(net)) is covered


def test_the_ledger_net_in_sql_is_payments_less_reversals_and_refunds_in_its_currency():
    invoice = invoice_issue(invoice=_draft())  # TZS 118.00
    _ledger(
        invoice,
        (LedgerEntry.Kind.PAYMENT, "118.00", "TZS"),
        (LedgerEntry.Kind.PAYMENT, "50.10", "TZS"),
        (LedgerEntry.Kind.REVERSAL, "50.10", "TZS"),
        (LedgerEntry.Kind.REFUND, "0.05", "TZS"),
        (LedgerEntry.Kind.PAYMENT, "999.00", "KES"),  # another currency never counts
    )
    untouched = invoice_issue(invoice=_draft())

    rows = {row.pk: row for row in Invoice.objects.with_ledger_net()}

    row = rows[invoice.pk]
    assert [quantize(row.ledger_payments), quantize(row.ledger_reversals)] == [
        Decimal("168.10"),
        Decimal("50.10"),
    ]
    assert quantize(row.ledger_refunds) == Decimal("0.05")
    assert quantize(row.ledger_net) == Decimal("117.95")
    # P - R covers the total: a partial refund keeps an invoice paid.
    assert (row.ledger_covers, row.ledger_refunded, row.ledger_status) == (True, False, "paid")
    assert quantize(rows[untouched.pk].ledger_net) == Decimal("0.00")
    assert rows[untouched.pk].ledger_covers is False
    assert rows[untouched.pk].ledger_status == "issued"


@pytest.mark.parametrize(
    ("amounts", "covered"),
    [
        (["100.10", "17.90"], True),
        (["100.10", "17.89"], False),
        (["118.00", "0.01"], True),
        ([], False),
    ],
)
def test_the_sql_rule_agrees_with_is_covered_by(amounts, covered):
    """`ledger_covers` filters in SQL what `is_covered_by` says, cents summed on any database
    (SQLite adds them in floating point)."""
    invoice = invoice_issue(invoice=_draft())  # TZS 118.00
    _ledger(invoice, *[(LedgerEntry.Kind.PAYMENT, amount, "TZS") for amount in amounts])

    row = Invoice.objects.with_ledger_net().get(pk=invoice.pk)

    assert row.ledger_covers is covered
    assert invoice.is_covered_by(quantize(row.ledger_net)) is covered
    assert list(Invoice.objects.with_ledger_net().filter(ledger_covers=covered)) == [invoice]


# P, R, F against a total of 118.00; (review case open?) -> status.
LEDGER_RULE = [
    (("0", "0", "0"), False, "issued"),
    (("0", "0", "0"), True, "needs_review"),
    (("118.00", "0", "0"), False, "paid"),
    (("118.00", "0", "0"), True, "paid"),  # an open case on a paid invoice leaves it paid
    (("117.99", "0", "0"), False, "issued"),
    (("118.00", "0", "18.00"), False, "paid"),  # a partial refund keeps it paid
    (("118.00", "0", "118.00"), False, "refunded"),
    (("118.00", "0", "118.00"), True, "refunded"),
    (("236.00", "0", "118.00"), False, "paid"),  # paid twice, one refunded
    (("236.00", "118.00", "0"), False, "paid"),  # paid twice, one charged back
    (("236.00", "118.00", "118.00"), False, "refunded"),
    (("118.00", "118.00", "0"), False, "issued"),  # charged back
    (("118.00", "118.00", "0"), True, "needs_review"),
    (("50.00", "0", "50.00"), False, "refunded"),  # a short payment given back
]


@pytest.mark.parametrize(("amounts", "review_open", "status"), LEDGER_RULE)
def test_the_ledger_rule(amounts, review_open, status):
    payments, reversals, refunds = (Decimal(a) for a in amounts)
    totals = LedgerTotals(payments=payments, reversals=reversals, refunds=refunds)
    invoice = Invoice(total=Decimal("118.00"), status=Invoice.Status.ISSUED)
    assert invoice.status_from_ledger(totals, review_open=review_open) == status
    assert totals.held == payments - reversals - refunds


@pytest.mark.parametrize("status", [Invoice.Status.DRAFT, Invoice.Status.VOID])
def test_draft_and_void_stay_whatever_the_ledger(status):
    totals = LedgerTotals(payments=Decimal("118.00"))
    invoice = Invoice(total=Decimal("118.00"), status=status)
    assert invoice.status_from_ledger(totals, review_open=True) == status


@pytest.mark.django_db
@pytest.mark.parametrize(("amounts", "review_open", "status"), LEDGER_RULE)
def test_the_sql_status_is_the_ledger_rule(amounts, review_open, status):
    invoice = invoice_issue(invoice=_draft())  # TZS 118.00
    kinds = (LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REVERSAL, LedgerEntry.Kind.REFUND)
    _ledger(
        invoice, *[(kind, a, "TZS") for kind, a in zip(kinds, amounts, strict=True) if Decimal(a)]
    )
    if review_open:
        ReviewCase.objects.create(
            invoice=invoice,
            attempt=invoice.payment_attempts.get(),
            kind=ReviewCase.Kind.MISMATCH,
            summary="test",
        )

    row = Invoice.objects.with_ledger_net().get(pk=invoice.pk)

    assert row.ledger_status == status
    assert row.review_open is review_open


@pytest.mark.parametrize(
    ("held", "in_flight", "due"),
    [
        ("0", "0", "118.00"),
        ("50.00", "0", "68.00"),  # an accepted short payment leaves a balance
        ("50.00", "50.00", "118.00"),  # money on its way back is not held
        ("118.00", "0", "0.00"),
        ("200.00", "0", "0.00"),
    ],
)
def test_the_balance_due(held, in_flight, due):
    invoice = Invoice(total=Decimal("118.00"))
    totals = LedgerTotals(payments=Decimal(held))
    assert invoice.balance_due(totals, refunds_in_flight=Decimal(in_flight)) == Decimal(due)
