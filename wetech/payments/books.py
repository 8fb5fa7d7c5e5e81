"""An invoice's books, under its locks: the ledger entries, what each payment still holds, the
review cases its payments open, the flags on them, and the invoice's status.

Settlement, refunds and review decisions change money the same way:

1. `invoice_lock`: lock every payment attempt of the invoice (in id order), then the invoice.
   Always all of them and always in that order, so whichever payment the news is about, the
   flags of the others can change without two settlers ever deadlocking.
2. `ledger_add`: one entry per (gateway, reference, kind); a duplicate means "already applied".
3. `invoice_flags_derive`: which completed payments are beyond what the invoice needs ("to
   refund"), and which flagged ones are needed again (e.g. the other payment was charged back).
4. `invoice_derive`: the invoice's status from its ledger and open review cases
   (`Invoice.status_from_ledger`, the one rule).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Subquery

from wetech.models import AuditEntry, Invoice, LedgerEntry, PaymentAttempt, Refund, ReviewCase
from wetech.models.invoices import LedgerTotals
from wetech.money import quantize, to_wire
from wetech.payments.audit import SYSTEM, audit_record
from wetech.sales.selectors import invoice_ledger_totals

logger = logging.getLogger("wetech.payments")

ZERO = Decimal("0.00")
Kind = ReviewCase.Kind
Action = AuditEntry.Action


@dataclass
class Books:
    """The locked rows: the attempt the news is about, every attempt of its invoice (the same
    object for that one), and the invoice."""

    attempt: PaymentAttempt
    attempts: list[PaymentAttempt]
    invoice: Invoice
    # The invoice's ledger totals as `invoice_flags_derive` last read them (None before): what
    # `invoice_derive` may be given until the next ledger write.
    totals: LedgerTotals | None = None


def invoice_lock(*, attempt_id: int, invoice_id: int | None = None) -> Books:
    """Lock the invoice's attempts (id order), then the invoice. Inside a transaction only.

    `invoice_id`: the attempt's invoice when the caller has read the attempt already (an attempt
    never changes invoice); a wrong one finds no such attempt, as an unknown attempt does."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("an invoice's books are only locked inside a transaction")
    # Otherwise the attempt's invoice is found inside the locking statement, so locking the
    # attempts is one query either way.
    attempts = list(
        PaymentAttempt.objects.select_for_update()
        .filter(
            invoice_id=invoice_id
            if invoice_id is not None
            else Subquery(PaymentAttempt.objects.filter(pk=attempt_id).values("invoice_id")[:1])
        )
        .order_by("pk")
    )
    attempt = next((a for a in attempts if a.pk == attempt_id), None)
    if attempt is None:
        raise PaymentAttempt.DoesNotExist(f"no payment attempt {attempt_id}")
    invoice = Invoice.objects.select_for_update().get(pk=attempt.invoice_id)
    for each in attempts:
        # The locked invoice, not a second copy read later by `each.invoice`.
        each.invoice = invoice
    return Books(attempt=attempt, attempts=attempts, invoice=invoice)


def ledger_add(
    *,
    attempt: PaymentAttempt,
    kind: str,
    amount: Decimal,
    currency: str = "",
    reference: str = "",
) -> bool:
    """Write one ledger entry; False when it was already written (that is success too).

    `reference` is the entry's key with the gateway and the kind: the attempt's gateway
    reference by default (a payment, a chargeback), the refund's own reference for a refund.
    """
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                invoice_id=attempt.invoice_id,
                attempt=attempt,
                kind=kind,
                amount=amount,
                currency=currency or attempt.currency,
                gateway=attempt.gateway,
                gateway_reference=reference
                or attempt.gateway_reference
                or attempt.merchant_reference,
                confirmation_code=attempt.confirmation_code,
            )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class PaymentMoney:
    """One payment's money in the ledger and on its way back."""

    currency: str = ""
    paid: Decimal = ZERO
    reversed: Decimal = ZERO
    refunded: Decimal = ZERO
    # Refunds asked of the gateway and not confirmed yet.
    in_flight: Decimal = ZERO
    # Refunds of this payment requested or done through the gateway's API.
    gateway_refunds: int = 0

    @property
    def left(self) -> Decimal:
        """What is left of the payment: paid, less chargebacks and completed refunds."""
        return self.paid - self.reversed - self.refunded

    @property
    def holds(self) -> Decimal:
        """What it holds once the refunds in flight are done."""
        return self.left - self.in_flight


@dataclass
class _Tally:
    currency: str = ""
    amounts: dict = field(default_factory=lambda: {kind: ZERO for kind in LedgerEntry.Kind})
    in_flight: Decimal = ZERO
    gateway_refunds: int = 0

    def money(self) -> PaymentMoney:
        return PaymentMoney(
            currency=self.currency,
            paid=self.amounts[LedgerEntry.Kind.PAYMENT],
            reversed=self.amounts[LedgerEntry.Kind.REVERSAL],
            refunded=self.amounts[LedgerEntry.Kind.REFUND],
            in_flight=self.in_flight,
            gateway_refunds=self.gateway_refunds,
        )


def payments_money(*, invoice_id: int) -> dict[int, PaymentMoney]:
    """Each attempt's money, by attempt id (attempts with no money are absent). Two queries;
    the amounts are added in Python, exactly (an invoice has a handful of entries)."""
    return _ledger_read(invoice_id=invoice_id)[0]


def _ledger_read(
    *, invoice_id: int, currency: str = ""
) -> tuple[dict[int, PaymentMoney], LedgerTotals]:
    """`payments_money`, and from the same rows the invoice's `LedgerTotals` in `currency`
    (the invoice's: entries in another one do not count), as `invoice_ledger_totals` sums them."""
    tallies: dict[int, _Tally] = {}
    totals = {kind: ZERO for kind in LedgerEntry.Kind}
    for attempt_id, kind, entry_currency, amount in LedgerEntry.objects.filter(
        invoice_id=invoice_id
    ).values_list("attempt_id", "kind", "currency", "amount"):
        tally = tallies.setdefault(attempt_id, _Tally())
        tally.amounts[kind] += amount
        if kind == LedgerEntry.Kind.PAYMENT:
            tally.currency = entry_currency
        if entry_currency == currency:
            totals[kind] += amount
    for attempt_id, status, method, amount in (
        Refund.objects.filter(invoice_id=invoice_id)
        .exclude(status=Refund.Status.REJECTED)
        .values_list("attempt_id", "status", "method", "amount")
    ):
        tally = tallies.setdefault(attempt_id, _Tally())
        if status == Refund.Status.REQUESTED:
            tally.in_flight += amount
        if method == Refund.Method.GATEWAY:
            tally.gateway_refunds += 1
    money = {attempt_id: tally.money() for attempt_id, tally in tallies.items()}
    return money, LedgerTotals(
        payments=quantize(totals[LedgerEntry.Kind.PAYMENT]),
        reversals=quantize(totals[LedgerEntry.Kind.REVERSAL]),
        refunds=quantize(totals[LedgerEntry.Kind.REFUND]),
    )


def payment_money(attempt: PaymentAttempt) -> PaymentMoney:
    return payments_money(invoice_id=attempt.invoice_id).get(attempt.pk, PaymentMoney())


def invoice_derive(invoice: Invoice, *, now: datetime, totals: LedgerTotals | None = None) -> str:
    """Set the invoice's status from its ledger and open review cases; returns the new status,
    or "" when it stays. Draft and void invoices stay whatever their ledger says.

    `totals`: the invoice's ledger as the caller read it under the books' locks after its last
    ledger write (`Books.totals`); read here when not given."""
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        return ""
    if totals is None:
        totals = invoice_ledger_totals(invoice)
    status = invoice.status_from_ledger(totals, review_open=False)
    # Open cases only tell "in review" from "issued": a paid or refunded invoice is that
    # whatever is open, so the cases are read only when the ledger leaves it unpaid.
    if status == Invoice.Status.ISSUED:
        review_open = invoice.review_cases.filter(status=ReviewCase.Status.OPEN).exists()
        status = invoice.status_from_ledger(totals, review_open=review_open)
    if status == invoice.status:
        return ""
    if status == Invoice.Status.PAID:
        invoice.paid_at = now
    elif status != Invoice.Status.REFUNDED:
        # A refunded invoice keeps the time it was paid; an unpaid one has none.
        invoice.paid_at = None
    invoice.status = status
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return status


def review_case_open(
    *,
    attempt: PaymentAttempt,
    kind: str,
    summary: str,
    gateway_said: dict | None = None,
    expected: dict | None = None,
) -> ReviewCase | None:
    """Open a case of `kind` on the attempt, unless one is open already (then None). The
    attempt's row lock is held, so the check and the insert cannot race; the partial unique
    constraint stands behind them."""
    if ReviewCase.objects.filter(
        attempt=attempt, kind=kind, status=ReviewCase.Status.OPEN
    ).exists():
        return None
    try:
        with transaction.atomic():
            case = ReviewCase.objects.create(
                invoice_id=attempt.invoice_id,
                attempt=attempt,
                kind=kind,
                summary=summary[:255],
                gateway_said=gateway_said or {},
                expected=expected or {},
            )
    except IntegrityError:
        return None
    audit_record(
        actor=SYSTEM,
        action=Action.REVIEW_OPENED,
        attempt=attempt,
        reason=case.summary,
        data={"case": case.pk, "kind": kind},
    )
    return case


def _case_close(
    *, attempt: PaymentAttempt, kinds: tuple[str, ...], decision: str, reason: str, actor: str, now
) -> list[ReviewCase]:
    cases = list(
        ReviewCase.objects.select_for_update().filter(
            attempt=attempt, kind__in=kinds, status=ReviewCase.Status.OPEN
        )
    )
    for case in cases:
        case.close(decision=decision, reason=reason, actor=actor, now=now)
    return cases


# The cases a payment "to refund" opens: on an invoice already paid, or on a void one.
REFUND_KINDS = (Kind.PAID_TWICE, Kind.VOID_INVOICE)


@dataclass(frozen=True)
class Alert:
    """A staff alert about one attempt (see payment_emails.ALERT_TITLES), sent on commit."""

    attempt_id: int
    reason: str
    detail: str


def _kept_by_staff(invoice: Invoice) -> set[int]:
    """Attempts whose money staff decided to keep (a refund case accepted or dismissed)."""
    return set(
        ReviewCase.objects.filter(
            invoice=invoice,
            kind__in=REFUND_KINDS,
            status=ReviewCase.Status.RESOLVED,
            decision__in=[ReviewCase.Decision.ACCEPT, ReviewCase.Decision.DISMISS],
        ).values_list("attempt_id", flat=True)
    )


def _money_said(attempt: PaymentAttempt, money: PaymentMoney) -> dict:
    return {
        "status": attempt.status,
        "amount": to_wire(money.paid),
        "currency": money.currency,
        "merchant_reference": attempt.merchant_reference,
        "gateway_reference": attempt.gateway_reference,
        "confirmation_code": attempt.confirmation_code,
        "payment_method": attempt.payment_method,
    }


def invoice_flags_derive(*, books: Books, now: datetime, why: str) -> list[Alert]:
    """Derive which completed payments are "to refund" after any money event (`why`).

    The invoice's payments are taken in the order they completed; each one that still holds
    money is needed while the ones before it do not cover the total (money in another currency,
    or on a void invoice, is never needed; money staff decided to keep always is). A payment
    that is not needed is flagged `needs_refund` with an open paid_twice (or void_invoice) case;
    a flagged one that is needed again (another payment was charged back or refunded) loses its
    flag, its case is dismissed by the system, the trail says so and staff are told why; one
    whose money is gone or on its way back (refunded, charged back) simply loses its flag.

    Changes the attempts in `books` (saving all but `books.attempt`, which the caller saves)
    and returns the alerts to send on commit.
    """
    invoice = books.invoice
    money, books.totals = _ledger_read(invoice_id=invoice.pk, currency=invoice.currency)
    kept: set[int] | None = None
    credited = sorted(
        (a for a in books.attempts if money.get(a.pk, PaymentMoney()).paid > 0),
        key=lambda a: (a.completed_at or a.created_at, a.pk),
    )
    alerts: list[Alert] = []
    covered = ZERO
    for attempt in credited:
        its = money[attempt.pk]
        in_currency = its.currency == invoice.currency
        if not in_currency:
            needed = False
        elif invoice.status != Invoice.Status.VOID and covered < invoice.total:
            needed = True
        else:
            # Not needed to pay the invoice: still needed if staff decided to keep it (read
            # once, and only here: a first payment never gets this far).
            if kept is None:
                kept = _kept_by_staff(invoice)
            needed = attempt.pk in kept
        if in_currency and its.holds > 0:
            covered += its.holds
        to_refund = not needed and its.holds > 0
        if to_refund == attempt.needs_refund:
            continue
        attempt.needs_refund = to_refund
        if attempt is not books.attempt:
            attempt.save(update_fields=["needs_refund", "updated_at"])
        if to_refund:
            alerts.extend(_flag_set(attempt, invoice, its))
        else:
            alerts.extend(_flag_cleared(attempt, invoice, its, needed=needed, why=why, now=now))
    return alerts


def _flag_set(attempt: PaymentAttempt, invoice: Invoice, money: PaymentMoney) -> list[Alert]:
    void = invoice.status == Invoice.Status.VOID
    detail = (
        f"Invoice {invoice.number} was already {'void' if void else 'paid'} when "
        f"{attempt.merchant_reference} completed: refund the customer."
    )
    review_case_open(
        attempt=attempt,
        kind=Kind.VOID_INVOICE if void else Kind.PAID_TWICE,
        summary=(
            f"{money.paid} {money.currency} by {attempt.merchant_reference} on "
            f"{'void ' if void else 'paid '}invoice {invoice.number}"
        ),
        gateway_said=_money_said(attempt, money),
        expected={
            "invoice_status": invoice.status,
            "invoice_total": to_wire(invoice.total),
            "currency": invoice.currency,
        },
    )
    logger.warning("payment %s is to be refunded", attempt.merchant_reference)
    return [Alert(attempt_id=attempt.pk, reason="refund", detail=detail)]


def _flag_cleared(
    attempt: PaymentAttempt,
    invoice: Invoice,
    money: PaymentMoney,
    *,
    needed: bool,
    why: str,
    now: datetime,
) -> list[Alert]:
    if not needed:
        # Nothing left to give back: its refund is done or under way, or it was charged back.
        reason = f"Nothing left to refund: {why}."
        decision = (
            ReviewCase.Decision.REFUND
            if money.refunded or money.in_flight
            else ReviewCase.Decision.DISMISS
        )
        _case_close(
            attempt=attempt,
            kinds=REFUND_KINDS,
            decision=decision,
            reason=reason,
            actor=SYSTEM,
            now=now,
        )
        return []
    reason = (
        f"{why}, so {attempt.merchant_reference} ({attempt.get_gateway_display()}) now pays "
        f"invoice {invoice.number}: do not refund it."
    )
    closed = _case_close(
        attempt=attempt,
        kinds=REFUND_KINDS,
        decision=ReviewCase.Decision.DISMISS,
        reason=reason,
        actor=SYSTEM,
        now=now,
    )
    audit_record(
        actor=SYSTEM,
        action=Action.FLAG_CLEARED,
        attempt=attempt,
        reason=reason,
        data={"cases": [case.pk for case in closed], "holds": money.holds},
    )
    logger.warning("payment %s is no longer to be refunded: %s", attempt.merchant_reference, why)
    return [Alert(attempt_id=attempt.pk, reason="flag_cleared", detail=reason)]
