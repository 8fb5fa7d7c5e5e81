"""Refunds: money a completed payment gives back, asked for by staff (the admin, the
`refund_payment` command, a review decision) and done once the gateway confirms it.

- Through a gateway with a refund API (`supports_refund_api`, Pesapal): the refund row is
  committed first, as requested, with its audit entry; then the gateway is asked, outside any
  transaction. A refusal marks it rejected. It completes when the gateway reports the payment
  reversed: settlement finds the refund in flight and completes it (`refund_complete`) instead
  of booking a chargeback, whichever way the news arrives (IPN, return, the reconciler).
- Through one without (AzamPay): staff send the money back by hand and record that transfer's
  reference here; the refund completes at once.

Completing writes the REFUND ledger entry keyed by the refund's own reference (so it is written
once), issues the credit note, derives the payments' flags and the invoice's status again, and
emails the customer on commit. Services never branch on a gateway's name: what a gateway allows
is its own `refund_problem`.
"""

import logging
import secrets
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from wetech.models import AuditEntry, LedgerEntry, PaymentAttempt, Refund
from wetech.money import MoneyFormatError, quantize, to_decimal
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
)
from wetech.payments.gateways.base import (
    GatewayError,
    GatewayOutcomeUnknown,
    GatewayRejected,
    PaymentGateway,
    RefundRequestData,
)
from wetech.payments.gateways.registry import UnknownGateway, gateway_named
from wetech.sales.credit_notes import credit_note_issue

logger = logging.getLogger("wetech.payments")

Action = AuditEntry.Action


class RefundNotAllowed(Exception):
    """A refund that cannot be made (or that the gateway refused); the message is one line for
    a person and says why."""


def new_refund_reference(invoice_number: str) -> str:
    """Ours, unique: the invoice number, "RF" and 8 random hex digits."""
    return f"{invoice_number}-RF{secrets.token_hex(4).upper()}"


def _gateway_of(attempt: PaymentAttempt) -> PaymentGateway:
    try:
        return gateway_named(attempt.gateway)
    except UnknownGateway as exc:
        raise RefundNotAllowed(str(exc)) from exc


def _amount_of(amount) -> Decimal | None:
    if amount is None or amount == "":
        return None
    try:
        value = to_decimal(amount)
    except (MoneyFormatError, TypeError) as exc:
        raise RefundNotAllowed(f"{amount!r} is not an amount of money") from exc
    if value != quantize(value):
        raise RefundNotAllowed(f"{value} has more than two decimals")
    return quantize(value)


def refund_open(
    *,
    books: Books,
    gateway: PaymentGateway,
    amount,
    reason: str,
    actor: str,
    user=None,
    reference: str = "",
    now: datetime,
) -> tuple[Refund, list[Alert]]:
    """Check and record a refund of `books.attempt` under the books' locks.

    Through a gateway with a refund API the refund is left requested (the caller asks the
    gateway once this commits, with `refund_send`); without one it is recorded as made by hand
    and completed at once. Raises RefundNotAllowed. Returns the refund and the alerts to send.
    """
    attempt, invoice = books.attempt, books.invoice
    label = f"payment {attempt.merchant_reference}"
    done = Refund.objects.filter(attempt=attempt, status=Refund.Status.COMPLETED).first()
    if attempt.status == PaymentAttempt.Status.REVERSED and done is not None:
        raise RefundNotAllowed(
            f"{label} was already refunded ({done.reference}, {done.amount} {done.currency})"
        )
    if attempt.status != PaymentAttempt.Status.COMPLETED:
        raise RefundNotAllowed(
            f"{label} is {attempt.get_status_display().lower()}: only a completed payment "
            "can be refunded"
        )
    money = payment_money(attempt)
    if money.paid <= 0:
        raise RefundNotAllowed(f"{label} is not in the ledger: nothing was paid")
    in_flight = Refund.objects.filter(attempt=attempt, status=Refund.Status.REQUESTED).first()
    if in_flight is not None:
        raise RefundNotAllowed(
            f"refund {in_flight.reference} of {label} is already in flight "
            f"({in_flight.amount} {in_flight.currency})"
        )
    left = money.left
    if left <= 0:
        raise RefundNotAllowed(f"nothing is left of {label} to refund")
    requested = _amount_of(amount)
    amount = left if requested is None else requested
    if amount <= 0:
        raise RefundNotAllowed("a refund must be more than nothing")
    if amount > left:
        raise RefundNotAllowed(
            f"{amount} {money.currency} is more than what is left of {label}: "
            f"{left} {money.currency}"
        )
    problem = gateway.refund_problem(
        payment_method=attempt.payment_method,
        amount=amount,
        collected=money.paid,
        confirmation_code=attempt.confirmation_code,
        earlier_refunds=money.gateway_refunds,
    )
    if problem:
        raise RefundNotAllowed(problem)
    reference = (reference or "").strip()
    if gateway.supports_refund_api and reference:
        raise RefundNotAllowed(
            f"{gateway.label} refunds go through its refund API: a reference is only for a "
            "refund made by hand"
        )
    if not gateway.supports_refund_api:
        if not reference:
            raise RefundNotAllowed(
                f"{gateway.label} has no refund API: send the money back by hand, then record "
                "it with the reference of that transfer"
            )
        if Refund.objects.filter(
            attempt__gateway=attempt.gateway, external_reference=reference
        ).exists():
            raise RefundNotAllowed(f"a refund with reference {reference} is already recorded")
    refund = Refund.objects.create(
        invoice=invoice,
        attempt=attempt,
        reference=new_refund_reference(invoice.number),
        amount=amount,
        currency=money.currency,
        method=Refund.Method.GATEWAY if gateway.supports_refund_api else Refund.Method.MANUAL,
        reason=reason,
        requested_by=actor,
        external_reference=reference[:100],
    )
    data = {"refund": refund.reference, "amount": amount, "currency": refund.currency}
    if refund.method == Refund.Method.MANUAL:
        return refund, refund_complete(
            books=books,
            refund=refund,
            now=now,
            actor=actor,
            user=user,
            action=Action.REFUND_RECORDED,
            why=f"{amount} {refund.currency} of {attempt.merchant_reference} was refunded by hand",
        )
    audit_record(
        actor=actor,
        user=user,
        action=Action.REFUND_REQUESTED,
        attempt=attempt,
        reason=reason,
        data={**data, "step": f"recorded, to be sent to {gateway.label}"},
    )
    alerts = invoice_flags_derive(
        books=books,
        now=now,
        why=f"a refund of {amount} {refund.currency} was requested from {gateway.label}",
    )
    return refund, alerts


def refund_complete(
    *,
    books: Books,
    refund: Refund,
    now: datetime,
    actor: str = SYSTEM,
    user=None,
    action: str = Action.REFUND_COMPLETED,
    why: str,
) -> list[Alert]:
    """Complete a refund under the books' locks: the REFUND ledger entry (keyed by the refund's
    reference, so once), the credit note, flags and invoice derived again, the customer's email
    on commit. The attempt's own state is the caller's. Returns the alerts to send."""
    attempt, invoice = books.attempt, books.invoice
    written = ledger_add(
        attempt=attempt,
        kind=LedgerEntry.Kind.REFUND,
        amount=refund.amount,
        currency=refund.currency,
        reference=refund.reference,
    )
    if not written:
        logger.warning("refund %s was already in the ledger", refund.reference)
    refund.status = Refund.Status.COMPLETED
    refund.completed_at = now
    refund.save(update_fields=["status", "completed_at", "updated_at"])
    credit_note = credit_note_issue(refund=refund, paid=payment_money(attempt).paid, now=now)
    audit_record(
        actor=actor,
        user=user,
        action=action,
        attempt=attempt,
        reason=refund.reason,
        data={
            "refund": refund.reference,
            "amount": refund.amount,
            "currency": refund.currency,
            "credit_note": credit_note.number,
            "method": refund.method,
            "external_reference": refund.external_reference,
        },
    )
    alerts = invoice_flags_derive(books=books, now=now, why=why)
    invoice_derive(invoice, now=now)
    payment_emails.refund_emails_schedule(refund_id=refund.pk)
    logger.info(
        "refund %s of %s completed (%s %s, credit note %s)",
        refund.reference,
        attempt.merchant_reference,
        refund.amount,
        refund.currency,
        credit_note.number,
        extra={"merchant_reference": attempt.merchant_reference, "refund": refund.reference},
    )
    return alerts


def alerts_schedule(alerts: list[Alert]) -> None:
    for alert in alerts:
        payment_emails.staff_alert_schedule(
            attempt_id=alert.attempt_id, reason=alert.reason, detail=alert.detail
        )


def _refund_request_data(refund: Refund, attempt: PaymentAttempt) -> RefundRequestData:
    return RefundRequestData(
        merchant_reference=attempt.merchant_reference,
        gateway_reference=attempt.gateway_reference,
        confirmation_code=attempt.confirmation_code,
        amount=refund.amount,
        currency=refund.currency,
        username=refund.requested_by,
        remarks=refund.reason,
        refund_reference=refund.reference,
    )


def _refund_reject(*, refund: Refund, message: str, actor: str, user) -> Refund:
    """Mark a requested refund rejected (the gateway refused it, or could not be asked and
    provably did not take it); the payment's flags follow."""
    now = timezone.now()
    with transaction.atomic():
        books = invoice_lock(attempt_id=refund.attempt_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Refund.Status.REQUESTED:
            # Completed meanwhile (its reversal arrived first): the gateway's later word stands.
            return refund
        refund.status = Refund.Status.REJECTED
        refund.gateway_message = message[:255]
        refund.save(update_fields=["status", "gateway_message", "updated_at"])
        audit_record(
            actor=actor,
            user=user,
            action=Action.REFUND_REJECTED,
            attempt=books.attempt,
            reason=refund.reason,
            data={"refund": refund.reference, "amount": refund.amount, "gateway": message},
        )
        alerts = invoice_flags_derive(
            books=books, now=now, why=f"refund {refund.reference} was rejected"
        )
        books.attempt.save(update_fields=["needs_refund", "updated_at"])
        alerts_schedule(alerts)
    return refund


def refund_send(*, refund: Refund, gateway: PaymentGateway, actor: str, user=None) -> Refund:
    """Ask the gateway for a requested refund. Outside any transaction.

    Raises RefundNotAllowed (after marking the refund rejected) when the gateway refuses it or
    provably did not take it. When its answer is lost the refund stays requested: the
    reconciler asks about the payment until the gateway reports it reversed, and staff are told
    if that takes too long.
    """
    attempt = PaymentAttempt.objects.get(pk=refund.attempt_id)
    try:
        accepted = gateway.request_refund(_refund_request_data(refund, attempt))
    except GatewayOutcomeUnknown as exc:
        message = (
            f"{gateway.label}'s answer was lost ({type(exc).__name__}); waiting for its status"
        )
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.REQUESTED).update(
            gateway_message=message[:255], updated_at=timezone.now()
        )
        audit_record(
            actor=actor,
            user=user,
            action=Action.REFUND_REQUESTED,
            attempt=attempt,
            reason=refund.reason,
            data={"refund": refund.reference, "step": message},
        )
        logger.warning("refund %s: %s", refund.reference, message)
        refund.refresh_from_db()
        return refund
    except GatewayRejected as exc:
        message = exc.message or "no reason given"
        refund = _refund_reject(refund=refund, message=message, actor=actor, user=user)
        logger.warning("refund %s refused by %s: %s", refund.reference, gateway.label, message)
        raise RefundNotAllowed(f"{gateway.label} refused the refund: {message}") from exc
    except GatewayError as exc:
        # Unreachable or misconfigured, and provably not taken: nothing was refunded.
        message = f"{gateway.label} could not be asked ({type(exc).__name__})"
        refund = _refund_reject(refund=refund, message=message, actor=actor, user=user)
        logger.warning("refund %s not sent: %s", refund.reference, message)
        raise RefundNotAllowed(f"{message}: nothing was refunded, try again later") from exc
    Refund.objects.filter(pk=refund.pk).update(
        gateway_message=(accepted.message or "accepted")[:255], updated_at=timezone.now()
    )
    audit_record(
        actor=actor,
        user=user,
        action=Action.REFUND_REQUESTED,
        attempt=attempt,
        reason=refund.reason,
        data={
            "refund": refund.reference,
            "step": f"queued by {gateway.label}",
            "gateway": accepted.message,
        },
    )
    logger.info("refund %s queued by %s", refund.reference, gateway.label)
    refund.refresh_from_db()
    return refund


def refund_request(
    *,
    attempt: PaymentAttempt,
    amount=None,
    reason: str,
    actor: str,
    user=None,
    reference: str = "",
) -> Refund:
    """Refund `amount` (default: all that is left) of a completed payment, for `reason`, asked
    by `actor` (the name sent to the gateway and kept in the audit trail; `user` the staff
    account when there is one). `reference` is the transfer's reference of a refund made by
    hand, for a gateway without a refund API.

    Locks the attempt (with its invoice's other attempts), then the invoice. Returns the refund:
    requested (sent to the gateway, done when it reports the payment reversed) or completed (made
    by hand). Raises RefundNotAllowed with a one-line reason when it cannot refund, including
    when the gateway refuses (the refund is then kept, rejected).
    """
    reason = (reason or "").strip()
    actor = (actor or "").strip() or (user.get_username() if user is not None else "")
    if not reason:
        raise RefundNotAllowed("a refund needs a reason")
    if not actor:
        raise RefundNotAllowed("a refund needs the name of who asks for it")
    gateway = _gateway_of(attempt)
    now = timezone.now()
    with transaction.atomic():
        books = invoice_lock(attempt_id=attempt.pk)
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
        books.attempt.save(update_fields=["needs_refund", "updated_at"])
        alerts_schedule(alerts)
    if refund.status == Refund.Status.REQUESTED:
        refund = refund_send(refund=refund, gateway=gateway, actor=actor, user=user)
    attempt.refresh_from_db()
    return refund
