"""Review cases: what staff decide about a payment that needs a person.

Settlement opens the cases (`books.review_case_open`, from `attempt_settle` and
`books.invoice_flags_derive`): a completion that does not match what the attempt expected
(mismatch), money beyond what the invoice needs (paid_twice, or void_invoice on a void invoice),
a chargeback (reversal). Staff resolve each one with a reason (`review_case_resolve`):

- accept: keep the money. A mismatched payment is credited as what it really was, a PAYMENT
  entry of the amount the gateway reported, in the invoice's currency only; a short payment
  leaves a balance, which the next payment asks for. Money paid twice is kept: it is no longer
  "to refund".
- refund: give the money back (`refunds.refund_open`, the same path as `refund_request`); the
  only way out for money in another currency, which is first booked as what it was.
- dismiss: close the case; nothing moves.

The invoice then follows from its ledger and its open cases, and the decision is in the audit
trail.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from wetech.models import AuditEntry, LedgerEntry, PaymentAttempt, Refund, ReviewCase
from wetech.money import MoneyFormatError, quantize, to_decimal
from wetech.payments.audit import audit_record
from wetech.payments.books import (
    REFUND_KINDS,
    Books,
    invoice_derive,
    invoice_flags_derive,
    invoice_lock,
    ledger_add,
)
from wetech.payments.gateways.registry import UnknownGateway, gateway_named
from wetech.payments.refunds import (
    RefundNotAllowed,
    alerts_schedule,
    refund_open,
    refund_send,
)

Decision = ReviewCase.Decision
Kind = ReviewCase.Kind

AUDIT_ACTIONS = {
    Decision.ACCEPT: AuditEntry.Action.REVIEW_ACCEPTED,
    Decision.REFUND: AuditEntry.Action.REVIEW_REFUNDED,
    Decision.DISMISS: AuditEntry.Action.REVIEW_DISMISSED,
}


class ReviewDecisionNotAllowed(RefundNotAllowed):
    """A decision the case cannot take (already resolved, money in another currency to accept,
    a chargeback to refund). A RefundNotAllowed, so a page that refunds shows it the same way;
    the message is one line for a person."""


def _reported_amount(case: ReviewCase, amount) -> Decimal:
    """The amount the gateway reported for the case, or `amount` when it reported none (cases
    opened from the flags of before, which kept only the words)."""
    said = case.gateway_said.get("amount")
    if said not in (None, ""):
        return quantize(said)
    if amount in (None, ""):
        raise ReviewDecisionNotAllowed(
            "the gateway's amount is not on record: give the amount that really arrived"
        )
    try:
        return quantize(to_decimal(amount))
    except (MoneyFormatError, TypeError) as exc:
        raise ReviewDecisionNotAllowed(f"{amount!r} is not an amount of money") from exc


def _credit_as_received(books: Books, case: ReviewCase, *, amount, actor: str, now) -> None:
    """Book a mismatched payment as what the gateway reported it to be."""
    attempt = books.attempt
    said = case.gateway_said
    real = _reported_amount(case, amount)
    currency = (said.get("currency") or attempt.currency).upper()
    if real <= 0:
        raise ReviewDecisionNotAllowed(f"the gateway reported {real} {currency}: nothing to book")
    attempt.status = PaymentAttempt.Status.COMPLETED
    attempt.completed_at = now
    attempt.confirmation_code = (said.get("confirmation_code") or attempt.confirmation_code)[:100]
    attempt.payment_method = (said.get("payment_method") or attempt.payment_method)[:60]
    # The gateway's own transaction is the key: money it reports twice is booked once.
    reference = said.get("gateway_reference") or ""
    written = ledger_add(
        attempt=attempt,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=real,
        currency=currency,
        reference=reference,
    )
    if not written:
        raise ReviewDecisionNotAllowed(
            f"the gateway's transaction {reference or attempt.merchant_reference} is already in "
            "the ledger: booking it again would count it twice"
        )
    attempt.status_detail = f"Booked by {actor} as received: {real} {currency}"[:255]


def _refusal(case: ReviewCase, decision: str, invoice_currency: str) -> str:
    if not case.is_open:
        return (
            f"case {case.pk} is already resolved ({case.get_decision_display().lower()} by "
            f"{case.resolved_by})"
        )
    if case.kind == Kind.REVERSAL and decision == Decision.ACCEPT:
        return "a chargeback leaves no money to accept: dismiss the case once it is handled"
    if case.kind == Kind.REVERSAL and decision == Decision.REFUND:
        return "a chargeback already gave the money back: dismiss the case once it is handled"
    if case.kind == Kind.MISMATCH and decision == Decision.ACCEPT:
        currency = (case.gateway_said.get("currency") or invoice_currency).upper()
        if currency != invoice_currency:
            return (
                f"only money in the invoice's currency ({invoice_currency}) can be accepted; "
                f"this payment came in {currency}: refund it"
            )
    return ""


def review_case_resolve(
    *,
    case: ReviewCase,
    decision: str,
    reason: str,
    actor: str,
    user=None,
    amount=None,
    reference: str = "",
) -> ReviewCase:
    """Resolve an open case with `decision` (accept, refund, dismiss) for `reason`, decided by
    `actor` (`user` the staff account when there is one).

    `amount`: for refund, how much (default: all that is left of the payment); for accept, what
    really arrived when the gateway's amount is not on record. `reference`: the transfer's
    reference of a refund made by hand (gateways without a refund API).

    Locks the invoice's attempts, then the invoice, then the case. Raises RefundNotAllowed
    (ReviewDecisionNotAllowed for the decision itself) with a one-line reason, and nothing is
    written. A refund through a gateway's API is asked once the decision is saved; if the
    gateway then refuses, the case stays resolved, the refund is kept as rejected, the payment
    is flagged "to refund" again (a new case) and RefundNotAllowed says why.
    """
    reason = (reason or "").strip()
    actor = (actor or "").strip() or (user.get_username() if user is not None else "")
    if decision not in Decision.values:
        raise ReviewDecisionNotAllowed(f"unknown decision {decision!r}")
    if not reason:
        raise ReviewDecisionNotAllowed("a decision needs a reason")
    if not actor:
        raise ReviewDecisionNotAllowed("a decision needs the name of who takes it")
    now = timezone.now()
    refund = None
    with transaction.atomic():
        books = invoice_lock(attempt_id=case.attempt_id)
        attempt, invoice = books.attempt, books.invoice
        case = ReviewCase.objects.select_for_update().get(pk=case.pk)
        refusal = _refusal(case, decision, invoice.currency)
        if refusal:
            raise ReviewDecisionNotAllowed(refusal)
        # Closed first: what follows derives the flags and the invoice from the open cases.
        case.close(decision=decision, reason=reason, actor=actor, now=now)
        alerts = []
        if decision == Decision.REFUND:
            try:
                gateway = gateway_named(attempt.gateway)
            except UnknownGateway as exc:
                raise RefundNotAllowed(str(exc)) from exc
            if case.kind == Kind.MISMATCH:
                # Booked as what it was (whatever its currency), then given back.
                _credit_as_received(books, case, amount=amount, actor=actor, now=now)
            refund, alerts = refund_open(
                books=books,
                gateway=gateway,
                amount=amount,
                reason=reason,
                actor=actor,
                user=user,
                reference=reference,
                now=now,
            )
        elif decision == Decision.ACCEPT and case.kind == Kind.MISMATCH:
            _credit_as_received(books, case, amount=amount, actor=actor, now=now)
        elif case.kind in REFUND_KINDS:
            # Accepted or dismissed: the money stays, it is no longer "to refund".
            attempt.needs_refund = False
        audit_record(
            actor=actor,
            user=user,
            action=AUDIT_ACTIONS[decision],
            attempt=attempt,
            reason=reason,
            data={
                "case": case.pk,
                "kind": case.kind,
                "refund": refund.reference if refund is not None else "",
            },
        )
        alerts += invoice_flags_derive(
            books=books, now=now, why=f"case {case.pk} ({case.get_kind_display()}) was resolved"
        )
        invoice_derive(invoice, now=now)
        attempt.save()
        alerts_schedule(alerts)
    if refund is not None and refund.status == Refund.Status.REQUESTED:
        refund_send(refund=refund, gateway=gateway, actor=actor, user=user)
    return case
