"""The read-only data-integrity audit behind `check_data_integrity`.

Each check is a small function returning `Finding`s of one kind (or a few closely related kinds
read by the same query). Checks use a fixed number of aggregate queries whatever the size of the
tables, never one per row, and never write: `integrity_audit` runs them all in one read-only
snapshot (PostgreSQL REPEATABLE READ READ ONLY; SQLite `query_only` in a deferred transaction),
so a concurrent write cannot make two checks disagree (an invoice issued between reading the
numbers and reading the counter would otherwise look like a gap).

Findings name an invoice number, a merchant reference or a row id; never a phone number or email.

SQLite keeps decimals as floating point, so sums can be off by a hair (100.10 + 100.20 is not
exactly 200.30): money comparisons allow half a cent, which cannot hide a real difference
because every stored amount is a whole number of cents.
"""

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Abs, Cast, Lag, Lead, Substr
from django.utils import timezone

from wetech.models import (
    GatewayNotification,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LedgerEntry,
    PaymentAttempt,
    Refund,
)
from wetech.models.invoices import HALF_CENT, LedgerTotals
from wetech.models.payments import OPEN_STATUSES
from wetech.money import quantize
from wetech.sales.invoicing import NUMBER_FORMAT

logger = logging.getLogger("wetech.integrity")

DEFAULT_GRACE = timedelta(hours=1)
# quantity (2 places) x unit price (2 places) rounded to cents is off by at most 0.0050.
LINE_ROUNDING = Decimal("0.00505")

InvoiceStatus = Invoice.Status
AttemptStatus = PaymentAttempt.Status
LedgerKind = LedgerEntry.Kind

NUMBERED = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PAID,
    InvoiceStatus.VOID,
    InvoiceStatus.NEEDS_REVIEW,
    InvoiceStatus.REFUNDED,
)
SETTLEABLE = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PAID,
    InvoiceStatus.NEEDS_REVIEW,
    InvoiceStatus.REFUNDED,
)
NUMBER_PATTERN = re.compile(r"WT-(\d{4})-(\d{5,})")
MAX_SEQUENCE_DIGITS = 18
MONEY = DecimalField(max_digits=16, decimal_places=2)


@dataclass(frozen=True)
class Finding:
    kind: str
    reference: str
    description: str

    def line(self) -> str:
        return f"{self.kind} {self.reference}: {self.description}"


def _money(value) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01')):,}"


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "never"


def _invoice_ref(number: str | None, pk: int) -> str:
    return number or f"invoice id {pk}"


# --- Invoice numbers ------------------------------------------------------------------------------


def _gaps(taken: list[int], top: int) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of 1..top missing from sorted `taken`, without building the
    whole range (one stray huge number must not cost memory)."""
    expected = 1
    for sequence in [*taken, top + 1]:
        if sequence > expected:
            yield expected, sequence - 1
        expected = max(expected, sequence + 1)


@dataclass
class YearNumbers:
    """What one year's well-formed numbers say: the highest sequence, the sequences carried by
    more than one invoice (sequence, count), and the runs missing below the highest."""

    highest: int = 0
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    holes: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class NumberFacts:
    """The invoice numbers reduced to what the audit reports: malformed ones (invoice id,
    number) and each year's `YearNumbers`. Its size is that of the faults, not of the table."""

    malformed: list[tuple[int, str | None]]
    years: dict[int, YearNumbers]


def number_facts(numbers: Iterable[tuple[int, str | None]]) -> NumberFacts:
    """`NumberFacts` from plain (invoice id, number) pairs, by the rule's own definition (the
    database computes the same with `number_facts_query`)."""
    malformed = []
    by_year: dict[int, Counter] = {}
    for pk, number in numbers:
        match = NUMBER_PATTERN.fullmatch(number or "")
        year, sequence = (int(match[1]), int(match[2])) if match else (0, 0)
        if (
            not match
            or sequence < 1
            or len(match[2]) > MAX_SEQUENCE_DIGITS
            or number != NUMBER_FORMAT.format(year=year, sequence=sequence)
        ):
            malformed.append((pk, number))
            continue
        by_year.setdefault(year, Counter())[sequence] += 1
    years = {}
    for year, taken in by_year.items():
        sequences = sorted(taken)
        years[year] = YearNumbers(
            highest=sequences[-1],
            duplicates=[
                (sequence, count) for sequence, count in sorted(taken.items()) if count > 1
            ],
            holes=list(_gaps(sequences, sequences[-1])),
        )
    return NumberFacts(malformed=malformed, years=years)


# A number exactly as NUMBER_FORMAT writes it for a year of four digits and a sequence from 1:
# five digits, zero-padded, or more without a leading zero (at most MAX_SEQUENCE_DIGITS, so the
# database can read it as a 64-bit integer).
WELL_FORMED_NUMBER = (
    r"^WT-[1-9][0-9]{3}-([1-9][0-9]{4,17}|0[1-9][0-9]{3}|00[1-9][0-9]{2}|000[1-9][0-9]|0000[1-9])$"
)


def number_facts_query() -> NumberFacts:
    """`NumberFacts` computed by the database in two passes over the numbered invoices, which
    return only the faults and one row per year: the numbers themselves never travel to Python.

    The second pass sorts each year's well-formed numbers once and keeps, by comparing each
    sequence with the one before and after it (window functions), the first after a hole, the
    copies of a duplicate, and the highest.
    """
    numbered = Invoice.objects.filter(status__in=NUMBERED).order_by()
    malformed = list(
        numbered.filter(Q(number__isnull=True) | ~Q(number__regex=WELL_FORMED_NUMBER))
        .order_by("pk")
        .values_list("pk", "number")
    )
    by_sequence = {"partition_by": [F("year")], "order_by": F("sequence").asc()}
    rows = (
        numbered.filter(number__regex=WELL_FORMED_NUMBER)
        .annotate(
            year=Cast(Substr("number", 4, 4), IntegerField()),
            sequence=Cast(Substr("number", 9), BigIntegerField()),
        )
        .annotate(
            previous=Window(Lag("sequence", default=Value(0)), **by_sequence),
            following=Window(Lead("sequence"), **by_sequence),
        )
        .filter(
            Q(sequence__gt=F("previous") + 1)
            | Q(sequence=F("previous"))
            | Q(following__isnull=True)
        )
        .order_by("year", "sequence")
        .values_list("year", "previous", "sequence", "following")
    )
    years: dict[int, YearNumbers] = {}
    copies: Counter = Counter()
    for year, previous, sequence, following in rows:
        numbers = years.setdefault(year, YearNumbers())
        if sequence > previous + 1:
            numbers.holes.append((previous + 1, sequence - 1))
        if sequence == previous:
            copies[year, sequence] += 1
        if following is None:
            numbers.highest = sequence
    for (year, sequence), extra in sorted(copies.items()):
        years[year].duplicates.append((sequence, extra + 1))
    return NumberFacts(malformed=malformed, years=years)


def _gap_finding(year: int, first: int, last: int, *, top: int, counter: int | None) -> Finding:
    label = NUMBER_FORMAT.format(year=year, sequence=first)
    if last != first:
        label += ".." + NUMBER_FORMAT.format(year=year, sequence=last)
    return Finding(
        "invoice_number_gap",
        label,
        f"No invoice carries {label} although the {year} sequence reached {top} "
        f"(counter at {counter if counter is not None else 'none'}).",
    )


def number_findings(facts: NumberFacts, counters: dict[int, int]) -> list[Finding]:
    """Malformed, duplicate and missing numbers, and counters behind or ahead.

    `counters` maps year to the counter's last number.
    """
    findings = [
        Finding(
            "invoice_number_malformed",
            _invoice_ref(number, pk),
            f"Invoice number {number!r} is not of the form WT-YYYY-NNNNN.",
        )
        for pk, number in facts.malformed
    ]
    for year in sorted(set(facts.years) | {y for y, last in counters.items() if last}):
        numbers = facts.years.get(year, YearNumbers())
        for sequence, count in numbers.duplicates:
            number = NUMBER_FORMAT.format(year=year, sequence=sequence)
            findings.append(
                Finding(
                    "invoice_number_duplicate",
                    number,
                    f"{count} invoices carry the number {number}.",
                )
            )
        highest = numbers.highest
        counter = counters.get(year)
        if counter is None or counter < highest:
            highest_number = NUMBER_FORMAT.format(year=year, sequence=highest)
            state = "is missing" if counter is None else f"stands at {counter}"
            findings.append(
                Finding(
                    "invoice_counter_behind",
                    f"counter {year}",
                    f"The {year} invoice counter {state} but {highest_number} exists, "
                    "so issuing the next invoice would collide with a taken number.",
                )
            )
        top = max(highest, counter or 0)
        holes = list(numbers.holes)
        if top > highest:
            holes.append((highest + 1, top))
        findings += [
            _gap_finding(year, first, last, top=top, counter=counter) for first, last in holes
        ]
    return findings


def invoice_numbers_audit(
    *, numbers: Iterable[tuple[int, str | None]], counters: dict[int, int]
) -> list[Finding]:
    """The number findings from plain data: `numbers` are (invoice id, number) of every
    numbered invoice; `counters` maps year to the counter's last number."""
    return number_findings(number_facts(numbers), counters)


def invoice_numbers_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    counters = dict(InvoiceCounter.objects.values_list("year", "last_number"))
    return number_findings(number_facts_query(), counters)


# --- Paid state against the ledger ----------------------------------------------------------------


def _state_finding(invoice: Invoice, totals: LedgerTotals, expected: str) -> Finding:
    status = invoice.status
    total = f"{_money(invoice.total)} {invoice.currency}"
    collected = _money(totals.collected)
    refunds = f" (refunds of {_money(totals.refunds)} aside)" if totals.refunds else ""
    if expected == InvoiceStatus.REFUNDED:
        return Finding(
            "invoice_refunded_not_marked",
            invoice.number,
            f"Its ledger refunded {_money(totals.refunds)} of {collected} collected, "
            f"but it is {status}.",
        )
    if status == InvoiceStatus.REFUNDED:
        return Finding(
            "invoice_refunded_not_by_ledger",
            invoice.number,
            f"Marked refunded, but its ledger holds {_money(totals.held)} of {total} "
            f"after refunds of {_money(totals.refunds)}.",
        )
    if status == InvoiceStatus.PAID:
        return Finding(
            "invoice_paid_not_covered",
            invoice.number,
            f"Marked paid, but its ledger nets {collected} of {total}{refunds}.",
        )
    if expected == InvoiceStatus.PAID:
        return Finding(
            "invoice_covered_not_paid",
            invoice.number,
            f"Its ledger nets {collected} of {total}{refunds}, but it is {status}.",
        )
    if status == InvoiceStatus.NEEDS_REVIEW:
        return Finding(
            "invoice_review_without_case",
            invoice.number,
            "In review, but no review case is open on it.",
        )
    return Finding(
        "invoice_case_not_in_review",
        invoice.number,
        f"A review case is open on it, but it is {status}.",
    )


def invoice_paid_state_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """The status the ledger and the open review cases give (`Invoice.status_from_ledger`)."""
    candidates = (
        # Void invoices are left alone: money that reaches one is flagged for refund instead.
        Invoice.objects.filter(status__in=SETTLEABLE)
        .with_ledger_net()
        .exclude(ledger_status=F("status"))
        .only("pk", "number", "status", "total", "currency")
        .order_by("number")
    )
    findings = []
    # SQL allowed half a cent for SQLite's float sums; the exact rule has the last word.
    for invoice in candidates:
        totals = LedgerTotals(
            payments=quantize(invoice.ledger_payments),
            reversals=quantize(invoice.ledger_reversals),
            refunds=quantize(invoice.ledger_refunds),
        )
        expected = invoice.status_from_ledger(totals, review_open=invoice.review_open)
        if expected != invoice.status:
            findings.append(_state_finding(invoice, totals, expected))
    return findings


def invoice_paid_at_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = Invoice.objects.filter(status=InvoiceStatus.PAID, paid_at__isnull=True)
    return [
        Finding("invoice_paid_without_date", number, "Marked paid but has no paid_at time.")
        for number in rows.order_by("number").values_list("number", flat=True)
    ]


# --- Amounts and arithmetic -----------------------------------------------------------------------


def amounts_positive_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """Issued invoices, their lines, attempts and ledger entries all move more than nothing."""
    findings = []
    for pk, number, total, currency in (
        Invoice.objects.filter(status__in=NUMBERED, total__lte=0)
        .order_by("number")
        .values_list("pk", "number", "total", "currency")
    ):
        findings.append(
            Finding(
                "amount_not_positive",
                _invoice_ref(number, pk),
                f"Issued invoice totals {_money(total)} {currency}.",
            )
        )
    for number, position, amount in (
        InvoiceLine.objects.filter(invoice__status__in=NUMBERED, amount__lte=0)
        .order_by("invoice__number", "position", "pk")
        .values_list("invoice__number", "position", "amount")
    ):
        findings.append(
            Finding(
                "amount_not_positive",
                f"{number} line {position}",
                f"Invoice line amounts to {_money(amount)}.",
            )
        )
    for reference, amount, currency in (
        PaymentAttempt.objects.filter(amount__lte=0)
        .order_by("merchant_reference")
        .values_list("merchant_reference", "amount", "currency")
    ):
        findings.append(
            Finding(
                "amount_not_positive",
                reference,
                f"Payment attempt is for {_money(amount)} {currency}.",
            )
        )
    for pk, kind, amount, currency in (
        LedgerEntry.objects.filter(amount__lte=0)
        .order_by("pk")
        .values_list("pk", "kind", "amount", "currency")
    ):
        findings.append(
            Finding(
                "amount_not_positive",
                f"ledger {pk}",
                f"Ledger {kind} entry of {_money(amount)} {currency}.",
            )
        )
    return findings


def invoice_total_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        Invoice.objects.filter(status__in=NUMBERED)
        .annotate(off_by=Abs(F("total") - F("subtotal") - F("tax"), output_field=MONEY))
        .filter(off_by__gt=HALF_CENT)
        .order_by("number")
        .values_list("pk", "number", "subtotal", "tax", "total")
    )
    return [
        Finding(
            "invoice_total_mismatch",
            _invoice_ref(number, pk),
            f"Total {_money(total)} is not subtotal {_money(subtotal)} plus tax {_money(tax)}.",
        )
        for pk, number, subtotal, tax, total in rows
    ]


def invoice_subtotal_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """Subtotal against the sum of the lines (invoices with no lines: `invoice_lines_check`)."""
    rows = (
        Invoice.objects.filter(status__in=NUMBERED)
        .annotate(lines_total=Sum("lines__amount"))
        .annotate(off_by=Abs(F("subtotal") - F("lines_total"), output_field=MONEY))
        .filter(off_by__gt=HALF_CENT)
        .order_by("number")
        .values_list("pk", "number", "subtotal", "lines_total")
    )
    return [
        Finding(
            "invoice_subtotal_mismatch",
            _invoice_ref(number, pk),
            f"Subtotal {_money(subtotal)} is not the sum of its lines, {_money(lines_total)}.",
        )
        for pk, number, subtotal, lines_total in rows
    ]


def invoice_line_arithmetic_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        InvoiceLine.objects.filter(invoice__status__in=NUMBERED)
        .annotate(off_by=Abs(F("amount") - F("quantity") * F("unit_price"), output_field=MONEY))
        .filter(off_by__gt=LINE_ROUNDING)
        .order_by("invoice__number", "position", "pk")
        .values_list("invoice__number", "position", "quantity", "unit_price", "amount")
    )
    return [
        Finding(
            "invoice_line_mismatch",
            f"{number} line {position}",
            f"Amount {_money(amount)} is not quantity {quantity} times unit price "
            f"{_money(unit_price)}.",
        )
        for number, position, quantity, unit_price, amount in rows
    ]


# --- Ledger against invoices and gateway status ---------------------------------------------------


def ledger_currency_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """Money in another currency than its invoice's, unless it is being (or was) given back:
    a review case's refund books such a payment as what it was, then refunds it."""
    given_back = Refund.objects.filter(
        attempt=OuterRef("attempt"), currency=OuterRef("currency")
    ).exclude(status=Refund.Status.REJECTED)
    rows = (
        LedgerEntry.objects.exclude(currency=F("invoice__currency"))
        .exclude(Exists(given_back))
        .order_by("pk")
        .values_list("pk", "kind", "currency", "invoice__number", "invoice__currency")
    )
    return [
        Finding(
            "ledger_currency_mismatch",
            f"ledger {pk}",
            f"{kind.capitalize()} in {currency} on invoice {number}, which is in {invoice_currency}"
            " (the paid state ignores it).",
        )
        for pk, kind, currency, number, invoice_currency in rows
    ]


def ledger_invoice_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        LedgerEntry.objects.exclude(invoice_id=F("attempt__invoice_id"))
        .order_by("pk")
        .values_list("pk", "invoice__number", "attempt__merchant_reference")
    )
    return [
        Finding(
            "ledger_invoice_mismatch",
            f"ledger {pk}",
            f"Entry is booked on invoice {number} but its attempt {reference} is for another.",
        )
        for pk, number, reference in rows
    ]


def ledger_gateway_status_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """Money booked for an attempt the gateway never confirmed (or reversed)."""
    rows = (
        LedgerEntry.objects.filter(
            (
                Q(kind=LedgerKind.PAYMENT)
                & ~Q(attempt__status__in=[AttemptStatus.COMPLETED, AttemptStatus.REVERSED])
            )
            | (Q(kind=LedgerKind.REVERSAL) & ~Q(attempt__status=AttemptStatus.REVERSED))
        )
        .order_by("pk")
        .values_list("pk", "kind", "attempt__merchant_reference", "attempt__status")
    )
    return [
        Finding(
            "ledger_without_gateway_status",
            f"ledger {pk}",
            f"{kind.capitalize()} entry for attempt {reference}, which is {status}.",
        )
        for pk, kind, reference, status in rows
    ]


def attempt_ledger_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    """Completed attempts must be in the ledger; reversed ones that were credited, taken back
    (charged back, or refunded: a refund done is reported by the gateway as a reversal).

    Two queries, one per status: ORing the two EXISTS tests made PostgreSQL evaluate them row by
    row over every attempt (and cross its JIT threshold at 50,000 invoices); apart, each is a
    plain anti- or semi-join."""
    entries = LedgerEntry.objects.filter(attempt=OuterRef("pk"))
    credited = Exists(entries.filter(kind=LedgerKind.PAYMENT))
    taken_back = Exists(entries.filter(kind__in=[LedgerKind.REVERSAL, LedgerKind.REFUND]))
    columns = ("merchant_reference", "status", "invoice__number")
    rows = [
        *PaymentAttempt.objects.filter(status=AttemptStatus.COMPLETED)
        .exclude(credited)
        .values_list(*columns),
        *PaymentAttempt.objects.filter(status=AttemptStatus.REVERSED)
        .filter(credited)
        .exclude(taken_back)
        .values_list(*columns),
    ]
    return [
        Finding(
            "attempt_without_ledger",
            reference,
            f"Completed payment for {number} has no payment entry in the ledger."
            if status == AttemptStatus.COMPLETED
            else f"Reversed payment for {number} was credited but has no reversal entry.",
        )
        for reference, status, number in sorted(rows)
    ]


# --- Stuck and orphaned rows ----------------------------------------------------------------------


def attempt_stuck_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    cutoff = now - grace
    unexpiring = cutoff - timedelta(minutes=settings.PAYMENT_ATTEMPT_TTL_MINUTES)
    rows = (
        PaymentAttempt.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(expires_at__lt=cutoff) | Q(expires_at__isnull=True, created_at__lt=unexpiring))
        .order_by("created_at", "pk")
        .values_list("merchant_reference", "status", "created_at", "expires_at")
    )
    return [
        Finding(
            "attempt_stuck",
            reference,
            f"Still {status} since {_when(created)}, past its expiry ({_when(expires)}); "
            "reconcile_payments should have settled or expired it.",
        )
        for reference, status, created, expires in rows
    ]


def invoice_lines_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        Invoice.objects.filter(status__in=NUMBERED)
        .filter(~Exists(InvoiceLine.objects.filter(invoice=OuterRef("pk"))))
        .order_by("number")
        .values_list("pk", "number", "status")
    )
    return [
        Finding(
            "invoice_without_lines",
            _invoice_ref(number, pk),
            f"{status.capitalize()} invoice has no lines.",
        )
        for pk, number, status in rows
    ]


def attempt_on_draft_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        PaymentAttempt.objects.filter(invoice__status=InvoiceStatus.DRAFT)
        .order_by("merchant_reference")
        .values_list("merchant_reference", "status", "invoice_id")
    )
    return [
        Finding(
            "attempt_on_draft",
            reference,
            f"{status.capitalize()} payment attempt on draft invoice id {invoice_id}, "
            "which was never issued.",
        )
        for reference, status, invoice_id in rows
    ]


def notification_unprocessed_check(*, now: datetime, grace: timedelta) -> list[Finding]:
    rows = (
        GatewayNotification.objects.filter(
            result=GatewayNotification.Result.RECEIVED, received_at__lt=now - grace
        )
        .order_by("received_at", "pk")
        .values_list("pk", "gateway", "kind", "received_at")
    )
    return [
        Finding(
            "notification_unprocessed",
            f"notification {pk}",
            f"{gateway} {kind} received {_when(received)} was never processed; "
            "replay it from the admin.",
        )
        for pk, gateway, kind, received in rows
    ]


CHECKS: tuple[Callable[..., list[Finding]], ...] = (
    invoice_numbers_check,
    invoice_paid_state_check,
    invoice_paid_at_check,
    amounts_positive_check,
    invoice_total_check,
    invoice_subtotal_check,
    invoice_line_arithmetic_check,
    ledger_currency_check,
    ledger_invoice_check,
    ledger_gateway_status_check,
    attempt_ledger_check,
    attempt_stuck_check,
    invoice_lines_check,
    attempt_on_draft_check,
    notification_unprocessed_check,
)


@contextmanager
def _read_only_snapshot() -> Iterator[None]:
    """One consistent, write-refusing view of the database for the whole audit."""
    if connection.in_atomic_block or not connection.get_autocommit():
        # Inside someone else's transaction (tests, a shell): theirs decides.
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                # Each check is one pass over a table or two: compiling it to machine code
                # (JIT, past a planner cost that 50,000 invoices reach) cost more than running
                # it, up to a second for the paid-state check at 200,000.
                cursor.execute("SET LOCAL jit = off")
            yield
            transaction.set_rollback(True)
    elif connection.vendor == "sqlite":
        # Django's SQLite atomic() begins IMMEDIATE (takes the write lock); a deferred read
        # transaction holds one WAL snapshot and blocks no writer.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = ON")
            try:
                cursor.execute("BEGIN DEFERRED")
                try:
                    yield
                finally:
                    cursor.execute("ROLLBACK")
            finally:
                cursor.execute("PRAGMA query_only = OFF")
    else:
        yield


def findings_summary(findings: list[Finding]) -> str:
    """ "no findings" or e.g. "3 findings (2 invoice_number_gap, 1 attempt_stuck)"."""
    if not findings:
        return "no findings"
    kinds = Counter(f.kind for f in findings)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({detail})"


def integrity_audit(*, now: datetime | None = None, grace: timedelta = DEFAULT_GRACE):
    """Run every check; returns the findings (empty when the data is consistent). Never writes."""
    now = now or timezone.now()
    findings: list[Finding] = []
    with _read_only_snapshot():
        for check in CHECKS:
            findings.extend(check(now=now, grace=grace))
    logger.log(
        logging.WARNING if findings else logging.INFO,
        "data integrity: %s",
        findings_summary(findings),
        extra={"integrity_findings": len(findings)},
    )
    return findings
