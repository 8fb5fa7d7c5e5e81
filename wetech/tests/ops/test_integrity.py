"""The integrity audit: a clean database has no findings; each planted fault is found, exactly."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from wetech.models import (
    Client,
    GatewayNotification,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LedgerEntry,
    PaymentAttempt,
    ReviewCase,
)
from wetech.ops import integrity
from wetech.ops.integrity import Finding, integrity_audit, invoice_numbers_audit
from wetech.sales.invoicing import invoice_issue
from wetech.sales.selectors import invoice_net_paid
from wetech.tests.integrity_helpers import (
    build_world,
    checks_off,
    drop_invoice_number_unique,
    number,
    open_attempt,
    settle_completed,
)
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

Status = Invoice.Status


@pytest.fixture
def world():
    return build_world()


def kinds_and_refs(findings):
    return [(f.kind, f.reference) for f in findings]


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_consistent_database_has_no_findings(world):
    assert integrity_audit() == []


def test_an_empty_database_has_no_findings():
    assert integrity_audit() == []


# --- Invoice numbers ------------------------------------------------------------------------------


def test_a_counter_ahead_of_the_highest_number_is_a_gap(world):
    InvoiceCounter.objects.filter(year=world.year).update(last_number=4)
    label = f"{number(world.year, 3)}..{number(world.year, 4)}"
    assert integrity_audit() == [
        Finding(
            "invoice_number_gap",
            label,
            f"No invoice carries {label} although the {world.year} sequence reached 4 "
            "(counter at 4).",
        )
    ]


def test_a_hole_in_the_sequence_is_a_gap(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(number=number(world.year, 3))
    InvoiceCounter.objects.filter(year=world.year).update(last_number=3)
    assert kinds_and_refs(integrity_audit()) == [("invoice_number_gap", number(world.year, 2))]


def test_a_counter_behind_the_highest_number_is_found(world):
    InvoiceCounter.objects.filter(year=world.year).update(last_number=1)
    assert integrity_audit() == [
        Finding(
            "invoice_counter_behind",
            f"counter {world.year}",
            f"The {world.year} invoice counter stands at 1 but {number(world.year, 2)} exists, "
            "so issuing the next invoice would collide with a taken number.",
        )
    ]


def test_a_missing_counter_is_found(world):
    InvoiceCounter.objects.filter(year=world.year).delete()
    findings = integrity_audit()
    assert kinds_and_refs(findings) == [("invoice_counter_behind", f"counter {world.year}")]
    assert "counter is missing" in findings[0].description


def test_a_malformed_number_is_found_and_leaves_its_gap(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(number=f"WT-{world.year}-2")
    assert integrity_audit() == [
        Finding(
            "invoice_number_malformed",
            f"WT-{world.year}-2",
            f"Invoice number 'WT-{world.year}-2' is not of the form WT-YYYY-NNNNN.",
        ),
        Finding(
            "invoice_number_gap",
            number(world.year, 2),
            f"No invoice carries {number(world.year, 2)} although the {world.year} sequence "
            "reached 2 (counter at 2).",
        ),
    ]


def test_a_duplicate_number_in_a_restored_database_is_found(world, on_postgres):
    drop_invoice_number_unique()
    Invoice.objects.filter(pk=world.unpaid.pk).update(number=number(world.year, 1))
    InvoiceCounter.objects.filter(year=world.year).update(last_number=1)
    assert integrity_audit() == [
        Finding(
            "invoice_number_duplicate",
            number(world.year, 1),
            f"2 invoices carry the number {number(world.year, 1)}.",
        )
    ]


def test_number_audit_on_plain_data():
    numbers = [
        (1, "WT-2025-00001"),
        (2, "WT-2025-00001"),
        (3, "WT-2025-00004"),
        (4, "WT-2025-100000"),
        (5, "WT-2026-000007"),
        (6, None),
        (7, "WT-2026-00000"),
    ]
    findings = invoice_numbers_audit(numbers=numbers, counters={2025: 100001, 2026: 0, 2027: 2})
    assert kinds_and_refs(findings) == [
        ("invoice_number_malformed", "WT-2026-000007"),
        ("invoice_number_malformed", "invoice id 6"),
        ("invoice_number_malformed", "WT-2026-00000"),
        ("invoice_number_duplicate", "WT-2025-00001"),
        ("invoice_number_gap", "WT-2025-00002..WT-2025-00003"),
        ("invoice_number_gap", "WT-2025-00005..WT-2025-99999"),
        ("invoice_number_gap", "WT-2025-100001"),
        ("invoice_number_gap", "WT-2027-00001..WT-2027-00002"),
    ]


# Numbers a restored or hand-edited database may hold beside the well-formed ones.
ODD_NUMBERS = (
    "WT-2026-2",
    "WT-2026-000007",
    "WT-2026-00000",
    "WT-0999-00001",
    "WT-2026-0000001",
    "wt-2026-00003",
    "WT-2026-00003 ",
    "INV-2026-00004",
    "WT-2026-000000000007",
)


@given(
    taken=st.sets(st.tuples(st.integers(2025, 2027), st.integers(1, 30)), max_size=25),
    odd=st.sets(st.sampled_from(ODD_NUMBERS), max_size=3),
    counters=st.dictionaries(st.integers(2024, 2028), st.integers(0, 35), max_size=4),
)
def test_the_database_finds_what_the_rule_finds_on_plain_data(taken, odd, counters):
    """`invoice_numbers_check` (the database's passes) against `invoice_numbers_audit` (the
    rule on every number, in Python) over the same invoices and counters."""
    numbers = sorted({number(year, sequence) for year, sequence in taken} | odd)
    with transaction.atomic():
        client = Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+2557")
        Invoice.objects.bulk_create(
            Invoice(
                client=client,
                number=text,
                status=Status.ISSUED,
                issued_at=timezone.now(),
                client_name="Asha",
                client_email=client.email,
                client_phone=client.phone,
            )
            for text in numbers
        )
        InvoiceCounter.objects.bulk_create(
            InvoiceCounter(year=year, last_number=last) for year, last in counters.items()
        )
        expected = invoice_numbers_audit(
            numbers=Invoice.objects.order_by("pk").values_list("pk", "number"),
            counters=counters,
        )
        found = integrity.invoice_numbers_check(now=timezone.now(), grace=timedelta(0))
        transaction.set_rollback(True)
    assert found == expected


def test_drafts_have_no_number_to_audit(world):
    issued_invoice()
    Invoice.objects.filter(pk=world.draft.pk).update(number=None)
    assert integrity_audit() == []


# --- Paid state -----------------------------------------------------------------------------------


def test_paid_without_money_in_the_ledger_is_found(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(status=Status.PAID, paid_at=timezone.now())
    assert integrity_audit() == [
        Finding(
            "invoice_paid_not_covered",
            world.unpaid.number,
            "Marked paid, but its ledger nets 0.00 of 141,600.59 TZS.",
        )
    ]


def test_money_in_the_ledger_on_an_unpaid_invoice_is_found(world):
    Invoice.objects.filter(pk=world.paid.pk).update(status=Status.ISSUED, paid_at=None)
    assert integrity_audit() == [
        Finding(
            "invoice_covered_not_paid",
            world.paid.number,
            "Its ledger nets 413,000.00 of 413,000.00 TZS, but it is issued.",
        )
    ]


def test_a_covered_invoice_left_in_review_is_found(world):
    Invoice.objects.filter(pk=world.paid.pk).update(status=Status.NEEDS_REVIEW)
    assert kinds_and_refs(integrity_audit()) == [("invoice_covered_not_paid", world.paid.number)]


def test_paid_without_a_paid_time_is_found(world):
    Invoice.objects.filter(pk=world.paid.pk).update(paid_at=None)
    assert integrity_audit() == [
        Finding(
            "invoice_paid_without_date",
            world.paid.number,
            "Marked paid but has no paid_at time.",
        )
    ]


def test_a_reversal_makes_a_paid_invoice_uncovered(world):
    PaymentAttempt.objects.filter(pk=world.paid_attempt.pk).update(
        status=PaymentAttempt.Status.REVERSED
    )
    LedgerEntry.objects.create(
        invoice=world.paid,
        attempt=world.paid_attempt,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=Decimal("13000"),
        currency="TZS",
        gateway="pesapal",
        gateway_reference=world.paid_attempt.gateway_reference,
    )
    assert integrity_audit() == [
        Finding(
            "invoice_paid_not_covered",
            world.paid.number,
            "Marked paid, but its ledger nets 400,000.00 of 413,000.00 TZS.",
        )
    ]


def _refund_entry(world, amount):
    LedgerEntry.objects.create(
        invoice=world.paid,
        attempt=world.paid_attempt,
        kind=LedgerEntry.Kind.REFUND,
        amount=Decimal(amount),
        currency="TZS",
        gateway="pesapal",
        gateway_reference=f"RF-{amount}",
    )


def test_a_partial_refund_keeps_a_paid_invoice_paid(world):
    _refund_entry(world, "13000")
    assert integrity_audit() == []


def test_a_full_refund_left_paid_is_found(world):
    _refund_entry(world, "413000")
    assert integrity_audit() == [
        Finding(
            "invoice_refunded_not_marked",
            world.paid.number,
            "Its ledger refunded 413,000.00 of 413,000.00 collected, but it is paid.",
        )
    ]


def test_refunded_without_a_refund_in_the_ledger_is_found(world):
    Invoice.objects.filter(pk=world.paid.pk).update(status=Status.REFUNDED)
    Invoice.objects.filter(pk=world.unpaid.pk).update(status=Status.REFUNDED)
    assert integrity_audit() == [
        Finding(
            "invoice_refunded_not_by_ledger",
            world.paid.number,
            "Marked refunded, but its ledger holds 413,000.00 of 413,000.00 TZS after refunds "
            "of 0.00.",
        ),
        Finding(
            "invoice_refunded_not_by_ledger",
            world.unpaid.number,
            "Marked refunded, but its ledger holds 0.00 of 141,600.59 TZS after refunds of 0.00.",
        ),
    ]


def test_a_refunded_invoice_is_clean_and_keeps_its_number(world):
    _refund_entry(world, "413000")
    Invoice.objects.filter(pk=world.paid.pk).update(status=Status.REFUNDED)
    assert integrity_audit() == []


def test_review_state_follows_the_open_cases(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(status=Status.NEEDS_REVIEW)
    assert integrity_audit() == [
        Finding(
            "invoice_review_without_case",
            world.unpaid.number,
            "In review, but no review case is open on it.",
        )
    ]
    Invoice.objects.filter(pk=world.unpaid.pk).update(status=Status.ISSUED)
    ReviewCase.objects.create(
        invoice=world.unpaid,
        attempt=world.open_attempt,
        kind=ReviewCase.Kind.MISMATCH,
        summary="amount 1 instead of 141600.59",
    )
    assert integrity_audit() == [
        Finding(
            "invoice_case_not_in_review",
            world.unpaid.number,
            "A review case is open on it, but it is issued.",
        )
    ]


def untaxed_invoice(world, unit_price) -> Invoice:
    invoice = Invoice.objects.create(
        client=world.paid.client,
        client_name="Asha Mwinyi",
        client_email="asha@example.co.tz",
        client_phone="+255712345678",
    )
    InvoiceLine.objects.create(invoice=invoice, description="Support", unit_price=unit_price)
    return invoice_issue(invoice=invoice)


def test_cents_summed_in_the_database_compare_exactly(world):
    """100.10 + 100.20 covers 200.30 (in SQLite's floating point it falls a hair short)."""
    invoice = untaxed_invoice(world, Decimal("200.30"))
    for amount in ("100.10", "100.20"):
        attempt = open_attempt(invoice)
        PaymentAttempt.objects.filter(pk=attempt.pk).update(amount=Decimal(amount))
        settle_completed(PaymentAttempt.objects.get(pk=attempt.pk))
    invoice.refresh_from_db()
    assert invoice.status == Status.PAID
    assert integrity_audit() == []


def test_the_sql_net_agrees_with_the_ledger_rule(world):
    """The audit filters on `Invoice.objects.with_ledger_net()`, which the status page and
    settlement read too (`invoice_net_paid`): it must be the ledger's own rule, the signed
    amounts in the invoice's currency, added up here row by row."""
    extra = issued_invoice(unit_price=Decimal("1000.10"))
    attempt = open_attempt(extra)
    settle_completed(attempt)
    for kind, amount, currency, suffix in (
        (LedgerEntry.Kind.REVERSAL, "500.05", "TZS", "r"),
        (LedgerEntry.Kind.REFUND, "0.10", "TZS", "f"),
        (LedgerEntry.Kind.PAYMENT, "99.99", "KES", "k"),
    ):
        LedgerEntry.objects.create(
            invoice=extra,
            attempt=attempt,
            kind=kind,
            amount=Decimal(amount),
            currency=currency,
            gateway="azampay",
            gateway_reference=f"{attempt.gateway_reference}-{suffix}",
        )
    nets = {
        invoice.pk: invoice.ledger_net.quantize(Decimal("0.01"))
        for invoice in Invoice.objects.with_ledger_net()
    }
    expected = {
        invoice.pk: sum(
            (
                entry.signed_amount
                for entry in invoice.ledger_entries.all()
                if entry.currency == invoice.currency
            ),
            Decimal("0.00"),
        )
        for invoice in Invoice.objects.all()
    }
    assert nets == expected
    assert nets == {invoice.pk: invoice_net_paid(invoice) for invoice in Invoice.objects.all()}
    assert nets[extra.pk] == extra.total - Decimal("500.15")


# --- Amounts and arithmetic -----------------------------------------------------------------------


def test_an_issued_invoice_for_nothing_is_found(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(subtotal=0, tax=0, total=0)
    assert integrity_audit() == [
        Finding("amount_not_positive", world.unpaid.number, "Issued invoice totals 0.00 TZS."),
        Finding(
            "invoice_subtotal_mismatch",
            world.unpaid.number,
            "Subtotal 0.00 is not the sum of its lines, 120,000.50.",
        ),
    ]


def test_a_line_for_nothing_is_found(world):
    raw(
        "UPDATE wetech_invoiceline SET unit_price = 0, amount = 0 WHERE invoice_id = %s",
        [world.unpaid.pk],
    )
    assert kinds_and_refs(integrity_audit()) == [
        ("amount_not_positive", f"{world.unpaid.number} line 1"),
        ("invoice_subtotal_mismatch", world.unpaid.number),
    ]


def test_an_attempt_for_nothing_is_found(world):
    with checks_off():
        PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(amount=Decimal("-5"))
        findings = integrity_audit()
    assert findings == [
        Finding(
            "amount_not_positive",
            world.open_attempt.merchant_reference,
            "Payment attempt is for -5.00 TZS.",
        )
    ]


def test_a_ledger_entry_for_nothing_is_found(world):
    with checks_off():
        LedgerEntry.objects.filter(pk=world.payment.pk).update(amount=0)
        findings = integrity_audit()
    assert findings == [
        Finding(
            "invoice_paid_not_covered",
            world.paid.number,
            "Marked paid, but its ledger nets 0.00 of 413,000.00 TZS.",
        ),
        Finding(
            "amount_not_positive", f"ledger {world.payment.pk}", "Ledger payment entry of 0.00 TZS."
        ),
    ]


def test_a_total_that_is_not_subtotal_plus_tax_is_found(world):
    with checks_off():
        Invoice.objects.filter(pk=world.unpaid.pk).update(total=F("total") + 1)
        findings = integrity_audit()
    assert findings == [
        Finding(
            "invoice_total_mismatch",
            world.unpaid.number,
            "Total 141,601.59 is not subtotal 120,000.50 plus tax 21,600.09.",
        )
    ]


def test_a_subtotal_that_is_not_the_sum_of_lines_is_found(world):
    Invoice.objects.filter(pk=world.unpaid.pk).update(
        subtotal=F("subtotal") + 1, total=F("total") + 1
    )
    assert integrity_audit() == [
        Finding(
            "invoice_subtotal_mismatch",
            world.unpaid.number,
            "Subtotal 120,001.50 is not the sum of its lines, 120,000.50.",
        )
    ]


def test_a_line_whose_amount_is_not_quantity_times_price_is_found(world):
    raw("UPDATE wetech_invoiceline SET quantity = 2 WHERE invoice_id = %s", [world.unpaid.pk])
    assert integrity_audit() == [
        Finding(
            "invoice_line_mismatch",
            f"{world.unpaid.number} line 1",
            "Amount 120,000.50 is not quantity 2.00 times unit price 120,000.50.",
        )
    ]


def test_a_line_rounded_half_up_to_cents_is_fine(world):
    invoice = untaxed_invoice(world, Decimal("0.33"))
    raw("UPDATE wetech_invoiceline SET quantity = 1.5 WHERE invoice_id = %s", [invoice.pk])
    assert InvoiceLine.objects.get(invoice=invoice).amount == Decimal("0.33")
    raw(
        "UPDATE wetech_invoiceline SET amount = 0.50 WHERE invoice_id = %s",  # 0.495 half up
        [invoice.pk],
    )
    Invoice.objects.filter(pk=invoice.pk).update(subtotal="0.50", total="0.50")
    assert integrity_audit() == []


# --- Ledger against invoices and gateways ---------------------------------------------------------


def test_a_ledger_entry_in_another_currency_is_found(world):
    LedgerEntry.objects.filter(pk=world.payment.pk).update(currency="KES")
    assert integrity_audit() == [
        Finding(
            "invoice_paid_not_covered",
            world.paid.number,
            "Marked paid, but its ledger nets 0.00 of 413,000.00 TZS.",
        ),
        Finding(
            "ledger_currency_mismatch",
            f"ledger {world.payment.pk}",
            f"Payment in KES on invoice {world.paid.number}, which is in TZS "
            "(the paid state ignores it).",
        ),
    ]


def test_a_ledger_entry_on_another_invoice_than_its_attempt_is_found(world):
    LedgerEntry.objects.filter(pk=world.payment.pk).update(invoice=world.unpaid)
    assert kinds_and_refs(integrity_audit()) == [
        ("invoice_paid_not_covered", world.paid.number),
        ("invoice_covered_not_paid", world.unpaid.number),
        ("ledger_invoice_mismatch", f"ledger {world.payment.pk}"),
    ]


def test_a_payment_for_an_attempt_the_gateway_never_completed_is_found(world):
    PaymentAttempt.objects.filter(pk=world.paid_attempt.pk).update(status="failed")
    assert integrity_audit() == [
        Finding(
            "ledger_without_gateway_status",
            f"ledger {world.payment.pk}",
            f"Payment entry for attempt {world.paid_attempt.merchant_reference}, which is failed.",
        )
    ]


def test_a_reversal_for_an_attempt_that_is_not_reversed_is_found(world):
    reversal = LedgerEntry.objects.create(
        invoice=world.paid,
        attempt=world.paid_attempt,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=world.paid.total,
        currency="TZS",
        gateway="pesapal",
        gateway_reference=world.paid_attempt.gateway_reference,
    )
    Invoice.objects.filter(pk=world.paid.pk).update(status=Status.ISSUED, paid_at=None)
    assert kinds_and_refs(integrity_audit()) == [
        ("ledger_without_gateway_status", f"ledger {reversal.pk}")
    ]


def test_a_completed_attempt_missing_from_the_ledger_is_found(world):
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(status="completed")
    assert integrity_audit() == [
        Finding(
            "attempt_without_ledger",
            world.open_attempt.merchant_reference,
            f"Completed payment for {world.unpaid.number} has no payment entry in the ledger.",
        )
    ]


def test_a_reversed_attempt_still_credited_is_found(world):
    PaymentAttempt.objects.filter(pk=world.paid_attempt.pk).update(status="reversed")
    assert integrity_audit() == [
        Finding(
            "attempt_without_ledger",
            world.paid_attempt.merchant_reference,
            f"Reversed payment for {world.paid.number} was credited but has no reversal entry.",
        )
    ]


# --- Stuck and orphaned rows ----------------------------------------------------------------------


def test_an_attempt_stuck_past_its_expiry_is_found_after_the_grace_period(world):
    now = timezone.now()
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(
        expires_at=now - timedelta(minutes=61)
    )
    findings = integrity_audit(now=now)
    assert kinds_and_refs(findings) == [("attempt_stuck", world.open_attempt.merchant_reference)]
    assert findings[0].description.startswith("Still pending since ")
    assert integrity_audit(now=now, grace=timedelta(hours=2)) == []


def test_an_attempt_within_the_grace_period_is_not_stuck(world):
    now = timezone.now()
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(
        expires_at=now - timedelta(minutes=30)
    )
    assert integrity_audit(now=now) == []


def test_an_attempt_without_expiry_is_stuck_once_old(world, settings):
    settings.PAYMENT_ATTEMPT_TTL_MINUTES = 60
    now = timezone.now()
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(expires_at=None)
    assert integrity_audit(now=now) == []
    assert kinds_and_refs(integrity_audit(now=now + timedelta(hours=2, minutes=1))) == [
        ("attempt_stuck", world.open_attempt.merchant_reference)
    ]


def test_an_issued_invoice_without_lines_is_found(world):
    raw("DELETE FROM wetech_invoiceline WHERE invoice_id = %s", [world.unpaid.pk])
    assert integrity_audit() == [
        Finding("invoice_without_lines", world.unpaid.number, "Issued invoice has no lines.")
    ]


def test_an_attempt_on_a_draft_invoice_is_found(world):
    attempt = open_attempt(world.draft)
    assert integrity_audit() == [
        Finding(
            "attempt_on_draft",
            attempt.merchant_reference,
            f"Pending payment attempt on draft invoice id {world.draft.pk}, which was never "
            "issued.",
        )
    ]


def test_a_notification_never_processed_is_found_after_the_grace_period(world):
    now = timezone.now()
    old = GatewayNotification.objects.create(gateway="azampay", kind="callback", method="POST")
    GatewayNotification.objects.filter(pk=old.pk).update(received_at=now - timedelta(minutes=90))
    GatewayNotification.objects.create(gateway="pesapal", kind="ipn", method="GET")
    findings = integrity_audit(now=now)
    assert kinds_and_refs(findings) == [("notification_unprocessed", f"notification {old.pk}")]
    assert findings[0].description.startswith("azampay callback received ")


# --- Read-only, cheap, and discreet ---------------------------------------------------------------


def plant_everything(world):
    """One of (nearly) every fault at once."""
    InvoiceCounter.objects.filter(year=world.year).update(last_number=5)
    Invoice.objects.filter(pk=world.paid.pk).update(paid_at=None)
    LedgerEntry.objects.filter(pk=world.payment.pk).update(currency="KES")
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(
        status="completed", expires_at=timezone.now() - timedelta(days=1)
    )
    raw("UPDATE wetech_invoiceline SET quantity = 3 WHERE invoice_id = %s", [world.unpaid.pk])
    open_attempt(world.draft)
    stale = GatewayNotification.objects.create(gateway="azampay", kind="callback", method="POST")
    GatewayNotification.objects.filter(pk=stale.pk).update(
        received_at=timezone.now() - timedelta(hours=3)
    )


def test_the_audit_never_writes(world):
    plant_everything(world)
    with CaptureQueriesContext(connection) as queries:
        findings = integrity_audit()
    assert len(findings) >= 8
    statements = [q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries]
    assert set(statements) <= {"SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK"}, statements


def test_the_number_of_queries_does_not_grow_with_the_data(world):
    with CaptureQueriesContext(connection) as small:
        integrity_audit()
    for _ in range(5):
        invoice = issued_invoice()
        settle_completed(open_attempt(invoice))
        open_attempt(issued_invoice(), gateway="azampay")
    with CaptureQueriesContext(connection) as large:
        assert integrity_audit() == []
    # One query a check, but the numbers' (counters, malformed, the window pass), the amounts'
    # (one a table) and the attempts' against the ledger (one a status).
    assert len(large.captured_queries) == len(small.captured_queries) == len(integrity.CHECKS) + 6


def test_findings_never_carry_contact_details(world):
    plant_everything(world)
    text = "\n".join(f.line() for f in integrity_audit())
    for secret in ("+255712345678", "255712345678", "712345678", "asha@example.co.tz", "Asha"):
        assert secret not in text


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_audit_reads_one_read_only_snapshot(monkeypatch):
    build_world()

    def sneaky_write(*, now, grace):
        Invoice.objects.update(client_company="changed")
        return []

    monkeypatch.setattr(integrity, "CHECKS", (*integrity.CHECKS, sneaky_write))
    with pytest.raises(DatabaseError):
        integrity_audit()
    assert not Invoice.objects.filter(client_company="changed").exists()

    monkeypatch.setattr(integrity, "CHECKS", integrity.CHECKS[:-1])
    assert integrity_audit() == []
    # The connection is writable again afterwards.
    Invoice.objects.filter(status=Status.DRAFT).update(client_company="Mwinyi Traders")
    assert Invoice.objects.filter(client_company="Mwinyi Traders").count() == 1


def test_one_stray_huge_number_costs_no_memory():
    findings = invoice_numbers_audit(numbers=[(1, "WT-2026-999999999")], counters={2026: 999999999})
    assert kinds_and_refs(findings) == [("invoice_number_gap", "WT-2026-00001..WT-2026-999999998")]
