"""Settlement: the one place where news about a payment changes money state.

Every source (Pesapal browser return and IPN, AzamPay callback, the reconciler, the admin's
"re-check now") first learns the truth from the gateway, outside any transaction, as a
`PaymentFinding`, then calls `attempt_settle`, which:

- locks the attempt, then its invoice (always in that order, so two settlers never deadlock);
- moves the attempt only forward: a late "failed" never overwrites "completed", "pending" or
  "invalid" is never "failed", and "completed" can only become "reversed";
- credits money only when amount (Decimal), currency and both references match the attempt's
  own snapshot; a mismatch goes to `needs_review` with a staff alert, never to paid;
- writes one ledger entry per (gateway, reference, kind): a duplicate insert means the news was
  already applied, which is success;
- derives the invoice's paid state from the ledger and schedules receipt and alert emails on
  commit, so each goes out exactly once.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from wetech.models import Invoice, LedgerEntry, PaymentAttempt
from wetech.payments import emails as payment_emails
from wetech.payments.gateways.base import AttemptRef, PaymentFinding, PaymentStatus
from wetech.sales.selectors import invoice_net_paid

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

    @property
    def needs_person(self) -> bool:
        return self.attempt.status == Status.NEEDS_REVIEW or self.attempt.needs_refund


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


def _ledger_add(*, attempt: PaymentAttempt, kind: str, amount: Decimal) -> bool:
    """Write one ledger entry; False when it was already written (that is success too)."""
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                invoice_id=attempt.invoice_id,
                attempt=attempt,
                kind=kind,
                amount=amount,
                currency=attempt.currency,
                gateway=attempt.gateway,
                gateway_reference=attempt.gateway_reference or attempt.merchant_reference,
                confirmation_code=attempt.confirmation_code,
            )
    except IntegrityError:
        return False
    return True


def _invoice_derive(invoice: Invoice, *, now, net: Decimal | None = None) -> str:
    """Set the invoice's paid state from its ledger (or the ledger's `net`, when the caller
    already knows it); returns "paid", "unpaid" or ""."""
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        return ""
    if net is None:
        net = invoice_net_paid(invoice)
    if invoice.is_covered_by(net):
        if invoice.status != Invoice.Status.PAID:
            invoice.status = Invoice.Status.PAID
            invoice.paid_at = now
            invoice.save(update_fields=["status", "paid_at", "updated_at"])
            return "paid"
    elif invoice.status == Invoice.Status.PAID:
        invoice.status = Invoice.Status.ISSUED
        invoice.paid_at = None
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
        return "unpaid"
    return ""


@dataclass(frozen=True)
class Transition:
    """What one finding did to an attempt (its fields set in memory, saved by the caller)."""

    # The attempt moved (to another state, or its money was written down).
    changed: bool = False
    # The finding was final news already applied: success for whoever delivered it again.
    duplicate: bool = False
    # This transition made the invoice paid: the receipt goes out.
    paid_now: bool = False
    # (reason, detail) for staff: see payment_emails.ALERT_TITLES.
    alert: tuple[str, str] | None = None


UNCHANGED = Transition()
CHANGED = Transition(changed=True)
DUPLICATE = Transition(duplicate=True)


def _complete(attempt, invoice, finding, *, now) -> Transition:
    if attempt.status not in COMPLETABLE:
        return DUPLICATE
    problems = _mismatches(attempt, finding)
    if problems:
        attempt.status = Status.NEEDS_REVIEW
        attempt.status_detail = ("Gateway reports completed, but " + "; ".join(problems))[:255]
        if invoice.status == Invoice.Status.ISSUED:
            invoice.status = Invoice.Status.NEEDS_REVIEW
            invoice.save(update_fields=["status", "updated_at"])
        return Transition(changed=True, alert=("mismatch", attempt.status_detail))
    if finding.gateway_reference and not attempt.gateway_reference:
        attempt.gateway_reference = finding.gateway_reference
    attempt.status = Status.COMPLETED
    attempt.completed_at = now
    attempt.status_detail = (finding.detail or "Payment completed")[:255]
    attempt.confirmation_code = finding.confirmation_code[:100]
    attempt.payment_method = finding.payment_method[:60]
    net_before = invoice_net_paid(invoice)
    already_covered = invoice.status in (
        Invoice.Status.PAID,
        Invoice.Status.VOID,
    ) or invoice.is_covered_by(net_before)
    if not _ledger_add(attempt=attempt, kind=LedgerEntry.Kind.PAYMENT, amount=attempt.amount):
        # Written by an earlier settlement whose attempt row did not keep up (restored from a
        # backup, edited by hand): the money is counted once, and the invoice was derived then.
        logger.warning("payment %s was already in the ledger", attempt.merchant_reference)
        return CHANGED
    alert = None
    if already_covered:
        attempt.needs_refund = True
        alert = (
            "refund",
            f"Invoice {invoice.number} was already {invoice.get_status_display().lower()}"
            f" when {attempt.merchant_reference} completed: refund the customer.",
        )
    # Every ledger write takes the invoice's row lock, which we hold: the net after our entry
    # is the net before it plus the entry, without reading the ledger again.
    net_after = net_before + attempt.amount if attempt.currency == invoice.currency else net_before
    paid_now = _invoice_derive(invoice, now=now, net=net_after) == "paid"
    return Transition(changed=True, paid_now=paid_now, alert=alert)


def _fail(attempt, finding) -> Transition:
    if attempt.status in FAILABLE:
        attempt.status = Status.FAILED
        attempt.status_detail = (finding.detail or "The payment did not go through")[:255]
        return CHANGED
    if attempt.status == Status.COMPLETED:
        logger.warning("late failure for completed payment %s ignored", attempt.merchant_reference)
    return DUPLICATE


def _reverse(attempt, invoice, finding, *, now) -> Transition:
    if attempt.status == Status.COMPLETED:
        attempt.status = Status.REVERSED
        attempt.status_detail = (finding.detail or "Reversed by the gateway")[:255]
        _ledger_add(attempt=attempt, kind=LedgerEntry.Kind.REVERSAL, amount=attempt.amount)
        became_unpaid = _invoice_derive(invoice, now=now) == "unpaid"
        return Transition(
            changed=True,
            alert=(
                "reversal",
                f"{attempt.merchant_reference} was reversed by {attempt.get_gateway_display()}"
                + (
                    f"; invoice {invoice.number} is unpaid again."
                    if became_unpaid
                    else "; the invoice stays as it was."
                ),
            ),
        )
    if attempt.status in FAILABLE:
        # Nothing was credited, so nothing is taken back.
        attempt.status = Status.REVERSED
        attempt.status_detail = "Reversed by the gateway before it was credited here"
        return CHANGED
    return DUPLICATE


def _transition(attempt, invoice, finding: PaymentFinding, *, now) -> Transition:
    if finding.status == PaymentStatus.COMPLETED:
        return _complete(attempt, invoice, finding, now=now)
    if finding.status == PaymentStatus.FAILED:
        return _fail(attempt, finding)
    if finding.status == PaymentStatus.REVERSED:
        return _reverse(attempt, invoice, finding, now=now)
    if finding.status in (PaymentStatus.PENDING, PaymentStatus.INVALID):
        return UNCHANGED
    raise ValueError(f"unknown payment state {finding.status!r}")


def attempt_settle(*, attempt_id: int, finding: PaymentFinding, source: str) -> SettleResult:
    """Apply `finding` to the attempt under row locks (attempt, then invoice).

    Raises ValueError for a state that is not a PaymentStatus (nothing is written).
    """
    now = timezone.now()
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt_id)
        invoice = Invoice.objects.select_for_update().get(pk=attempt.invoice_id)
        before = attempt.status
        outcome = _transition(attempt, invoice, finding, now=now)
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
            payment_emails.paid_emails_schedule(invoice_id=invoice.pk, attempt_id=attempt.pk)
        if outcome.alert is not None:
            reason, detail = outcome.alert
            logger.warning("payment %s needs a person: %s", attempt.merchant_reference, reason)
            payment_emails.staff_alert_schedule(attempt_id=attempt.pk, reason=reason, detail=detail)
    return SettleResult(
        attempt=attempt,
        changed=outcome.changed,
        duplicate=outcome.duplicate,
        paid_now=outcome.paid_now,
    )


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
