"""Settlement: the one place where news about a payment changes money state.

Every source (Pesapal browser return and IPN, AzamPay callback, the reconciler, the admin's
"re-check now") first learns the truth from the gateway, outside any transaction, as a
`PaymentFinding`, then calls `attempt_settle`, which:

- locks the invoice's attempts, then the invoice (`books.invoice_lock`: always in that order, so
  two settlers never deadlock);
- moves the attempt only forward: a late "failed" never overwrites "completed", "pending" or
  "invalid" is never "failed", and "completed" can only become "reversed";
- credits money only when amount (Decimal), currency and both references match the attempt's
  own snapshot; a mismatch opens a review case with a staff alert, never pays;
- writes one ledger entry per (gateway, reference, kind): a duplicate insert means the news was
  already applied, which is success;
- on "reversed", completes the refund in flight on that payment if there is one, and otherwise
  books a chargeback and opens a review case: never both, never twice;
- derives the flags on the invoice's payments and the invoice's status from the ledger, and
  schedules receipt, refund and alert emails on commit, so each goes out exactly once.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from wetech.models import AuditEntry, Invoice, LedgerEntry, PaymentAttempt, Refund, ReviewCase
from wetech.money import to_wire
from wetech.payments import emails as payment_emails
from wetech.payments.audit import SYSTEM, audit_record
from wetech.payments.books import (
    Alert,
    Books,
    invoice_derive,
    invoice_flags_derive,
    invoice_lock,
    ledger_add,
    payment_money,
    review_case_open,
)
from wetech.payments.gateways.base import AttemptRef, PaymentFinding, PaymentStatus
from wetech.payments.refunds import alerts_schedule, refund_complete

logger = logging.getLogger("wetech.payments")

Status = PaymentAttempt.Status

# Where a completion may still come from: money that really arrived is never turned away,
# even after we gave up waiting (expired) or the gateway first reported a failed try.
COMPLETABLE = frozenset(
    {Status.INITIATED, Status.PENDING, Status.EXPIRED, Status.FAILED, Status.CANCELLED}
)
FAILABLE = frozenset({Status.INITIATED, Status.PENDING, Status.EXPIRED})


@dataclass(frozen=True)
class SettleResult:
    attempt: PaymentAttempt
    changed: bool
    # The news was final and already applied (as opposed to "still pending, nothing to do").
    duplicate: bool = False
    paid_now: bool = False
    # A review case was opened (a mismatch, a chargeback, money to refund).
    case_opened: bool = False

    @property
    def needs_person(self) -> bool:
        return (
            self.attempt.status == Status.NEEDS_REVIEW
            or self.attempt.needs_refund
            or self.case_opened
        )


def attempt_ref(attempt: PaymentAttempt, *, gateway_reference: str = "") -> AttemptRef:
    """What a gateway needs to ask about the attempt. `gateway_reference` stands in for the
    attempt's own only while the gateway has not given us one (e.g. a push whose answer was
    lost, named by its callback)."""
    return AttemptRef(
        merchant_reference=attempt.merchant_reference,
        gateway_reference=attempt.gateway_reference or gateway_reference,
        amount=attempt.amount,
        currency=attempt.currency,
        provider=attempt.provider,
    )


def _mismatches(attempt: PaymentAttempt, finding: PaymentFinding) -> list[str]:
    problems = []
    if finding.amount is None or finding.amount != attempt.amount:
        problems.append(f"amount {finding.amount} instead of {attempt.amount}")
    if (finding.currency or "").upper() != attempt.currency:
        problems.append(f"currency {finding.currency or '(none)'} instead of {attempt.currency}")
    if finding.merchant_reference != attempt.merchant_reference:
        problems.append(
            f"merchant reference {finding.merchant_reference or '(none)'} "
            f"instead of {attempt.merchant_reference}"
        )
    # Once the gateway gave us its id, the news must name it: a message without it is not
    # enough to credit money (gateways.md B7).
    if attempt.gateway_reference and finding.gateway_reference != attempt.gateway_reference:
        problems.append(
            f"gateway reference {finding.gateway_reference or '(none)'} "
            f"instead of {attempt.gateway_reference}"
        )
    return problems


def finding_said(finding: PaymentFinding) -> dict:
    """What the gateway said, as a review case keeps it (plain JSON)."""
    return {
        "status": str(finding.status),
        "amount": None if finding.amount is None else to_wire(finding.amount),
        "currency": (finding.currency or "").upper(),
        "merchant_reference": finding.merchant_reference,
        "gateway_reference": finding.gateway_reference,
        "confirmation_code": finding.confirmation_code,
        "payment_method": finding.payment_method,
        "detail": finding.detail,
    }


def attempt_expected(attempt: PaymentAttempt) -> dict:
    """What the attempt expected, as a review case keeps it."""
    return {
        "amount": to_wire(attempt.amount),
        "currency": attempt.currency,
        "merchant_reference": attempt.merchant_reference,
        "gateway_reference": attempt.gateway_reference,
    }


@dataclass(frozen=True)
class Transition:
    """What one finding did to an attempt (its fields set in memory, saved by the caller)."""

    # The attempt moved (to another state, or its money was written down).
    changed: bool = False
    # The finding was final news already applied: success for whoever delivered it again.
    duplicate: bool = False
    # This transition made the invoice paid: the receipt goes out.
    paid_now: bool = False
    case_opened: bool = False
    # For staff, on commit: see payment_emails.ALERT_TITLES.
    alerts: tuple[Alert, ...] = ()


UNCHANGED = Transition()
CHANGED = Transition(changed=True)
DUPLICATE = Transition(duplicate=True)


def _mismatch(books: Books, finding: PaymentFinding, problems: list[str], *, now) -> Transition:
    attempt = books.attempt
    attempt.status = Status.NEEDS_REVIEW
    attempt.status_detail = ("Gateway reports completed, but " + "; ".join(problems))[:255]
    case = review_case_open(
        attempt=attempt,
        kind=ReviewCase.Kind.MISMATCH,
        summary=f"{attempt.merchant_reference}: " + "; ".join(problems),
        gateway_said=finding_said(finding),
        expected=attempt_expected(attempt),
    )
    invoice_derive(books.invoice, now=now)
    return Transition(
        changed=True,
        case_opened=case is not None,
        alerts=(Alert(attempt_id=attempt.pk, reason="mismatch", detail=attempt.status_detail),),
    )


def _complete(books: Books, finding: PaymentFinding, *, now) -> Transition:
    attempt, invoice = books.attempt, books.invoice
    if attempt.status not in COMPLETABLE:
        return DUPLICATE
    problems = _mismatches(attempt, finding)
    if problems:
        return _mismatch(books, finding, problems, now=now)
    if finding.gateway_reference and not attempt.gateway_reference:
        attempt.gateway_reference = finding.gateway_reference
    attempt.status = Status.COMPLETED
    attempt.completed_at = now
    attempt.status_detail = (finding.detail or "Payment completed")[:255]
    attempt.confirmation_code = finding.confirmation_code[:100]
    attempt.payment_method = finding.payment_method[:60]
    if not ledger_add(attempt=attempt, kind=LedgerEntry.Kind.PAYMENT, amount=attempt.amount):
        # Written by an earlier settlement whose attempt row did not keep up (restored from a
        # backup, edited by hand): the money is counted once, and the invoice was derived then.
        logger.warning("payment %s was already in the ledger", attempt.merchant_reference)
        return CHANGED
    was_paid = invoice.status == Invoice.Status.PAID
    alerts = invoice_flags_derive(
        books=books, now=now, why=f"{attempt.merchant_reference} completed"
    )
    derived = invoice_derive(invoice, now=now, totals=books.totals)
    return Transition(
        changed=True,
        paid_now=derived == Invoice.Status.PAID and not was_paid,
        case_opened=attempt.needs_refund,
        alerts=tuple(alerts),
    )


def _fail(attempt, finding) -> Transition:
    if attempt.status in FAILABLE:
        attempt.status = Status.FAILED
        attempt.status_detail = (finding.detail or "The payment did not go through")[:255]
        return CHANGED
    if attempt.status == Status.COMPLETED:
        logger.warning("late failure for completed payment %s ignored", attempt.merchant_reference)
    return DUPLICATE


def _refund_done(books: Books, refund: Refund, finding: PaymentFinding, *, now) -> Transition:
    """The gateway reports reversed a payment with a refund in flight: that refund is done."""
    attempt = books.attempt
    attempt.status = Status.REVERSED
    attempt.status_detail = f"Refunded: {refund.reference} ({refund.amount} {refund.currency})"
    alerts = refund_complete(
        books=books,
        refund=refund,
        now=now,
        why=f"refund {refund.reference} of {attempt.merchant_reference} was completed",
    )
    return Transition(changed=True, alerts=tuple(alerts))


def _chargeback(books: Books, finding: PaymentFinding, *, now) -> Transition:
    """The gateway reversed a payment nobody asked to refund: take back what is left of it."""
    attempt, invoice = books.attempt, books.invoice
    left = payment_money(attempt).left
    attempt.status = Status.REVERSED
    attempt.status_detail = (finding.detail or "Reversed by the gateway")[:255]
    if left > 0:
        ledger_add(attempt=attempt, kind=LedgerEntry.Kind.REVERSAL, amount=left)
    was_paid = invoice.status == Invoice.Status.PAID
    audit_record(
        actor=SYSTEM,
        action=AuditEntry.Action.CHARGEBACK,
        attempt=attempt,
        reason=attempt.status_detail,
        data={"amount": left, "currency": attempt.currency},
    )
    case = review_case_open(
        attempt=attempt,
        kind=ReviewCase.Kind.REVERSAL,
        summary=(
            f"{attempt.merchant_reference} was reversed by {attempt.get_gateway_display()}: "
            f"{left} {attempt.currency} taken back"
        ),
        gateway_said=finding_said(finding),
        expected=attempt_expected(attempt),
    )
    why = f"{attempt.merchant_reference} was reversed by {attempt.get_gateway_display()}"
    alerts = invoice_flags_derive(books=books, now=now, why=why)
    derived = invoice_derive(invoice, now=now)
    unpaid = was_paid and derived not in ("", Invoice.Status.PAID)
    detail = why + (
        f"; invoice {invoice.number} is unpaid again."
        if unpaid
        else "; the invoice stays as it was."
    )
    return Transition(
        changed=True,
        case_opened=case is not None,
        alerts=(Alert(attempt_id=attempt.pk, reason="reversal", detail=detail), *alerts),
    )


def _reverse(books: Books, finding: PaymentFinding, *, now) -> Transition:
    attempt = books.attempt
    if attempt.status == Status.COMPLETED:
        in_flight = (
            Refund.objects.select_for_update()
            .filter(attempt=attempt, status=Refund.Status.REQUESTED)
            .first()
        )
        if in_flight is not None:
            return _refund_done(books, in_flight, finding, now=now)
        return _chargeback(books, finding, now=now)
    if attempt.status in FAILABLE:
        # Nothing was credited, so nothing is taken back.
        attempt.status = Status.REVERSED
        attempt.status_detail = "Reversed by the gateway before it was credited here"
        return CHANGED
    # Already reversed (a refund done, a chargeback booked) or never credited: the unique
    # ledger key and this state make the same news a duplicate, however often it comes.
    return DUPLICATE


def _transition(books: Books, finding: PaymentFinding, *, now) -> Transition:
    if finding.status == PaymentStatus.COMPLETED:
        return _complete(books, finding, now=now)
    if finding.status == PaymentStatus.FAILED:
        return _fail(books.attempt, finding)
    if finding.status == PaymentStatus.REVERSED:
        return _reverse(books, finding, now=now)
    if finding.status in (PaymentStatus.PENDING, PaymentStatus.INVALID):
        return UNCHANGED
    raise ValueError(f"unknown payment state {finding.status!r}")


def attempt_settle(
    *,
    attempt_id: int,
    finding: PaymentFinding,
    source: str,
    invoice_id: int | None = None,
    record: Callable[[SettleResult], None] | None = None,
) -> SettleResult:
    """Apply `finding` to the attempt under row locks (the invoice's attempts, then the invoice).

    `invoice_id`: the attempt's invoice, when the caller read the attempt (see `invoice_lock`).
    `record(result)`, when given, runs last inside the settlement's transaction (the inbox marks
    its message there: one commit for both, and never one without the other).
    Raises ValueError for a state that is not a PaymentStatus (nothing is written).
    """
    now = timezone.now()
    with transaction.atomic():
        books = invoice_lock(attempt_id=attempt_id, invoice_id=invoice_id)
        attempt = books.attempt
        before = attempt.status
        outcome = _transition(books, finding, now=now)
        attempt.last_checked_at = now
        attempt.check_count += 1
        # The one save of the attempt for this transition, whatever moved.
        attempt.save()
        if outcome.changed:
            logger.info(
                "payment %s: %s -> %s (%s)",
                attempt.merchant_reference,
                before,
                attempt.status,
                source,
                extra={
                    "merchant_reference": attempt.merchant_reference,
                    "gateway": attempt.gateway,
                    "payment_status": attempt.status,
                    "source": source,
                },
            )
        if outcome.paid_now:
            payment_emails.paid_emails_schedule(attempt=attempt)
        for alert in outcome.alerts:
            logger.warning(
                "payment %s needs a person: %s", attempt.merchant_reference, alert.reason
            )
        alerts_schedule(list(outcome.alerts))
        result = SettleResult(
            attempt=attempt,
            changed=outcome.changed,
            duplicate=outcome.duplicate,
            paid_now=outcome.paid_now,
            case_opened=outcome.case_opened,
        )
        if record is not None:
            record(result)
    return result


def attempt_expire(*, attempt_id: int, detail: str) -> bool:
    """Close an attempt nobody will finish; a late completion can still be credited."""
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt_id)
        if not attempt.is_open:
            return False
        attempt.status = Status.EXPIRED
        attempt.status_detail = detail[:255]
        attempt.save(update_fields=["status", "status_detail", "updated_at"])
    logger.info("payment %s expired: %s", attempt.merchant_reference, detail)
    return True
