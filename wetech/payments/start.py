"""Starting a payment: one attempt per click, through whichever gateway the customer chose.

The attempt row is written in a short transaction before the gateway is called and the call
happens outside any transaction, so a slow gateway never holds a lock. Whatever the gateway
does, the attempt is never left "initiated": it becomes pending (the gateway took it), failed
(it provably did not) or, when the outcome is unknown, pending or expired as the gateway says
(`pending_after_unknown_start`: a push may still reach the phone; a hosted page we have no link
to can never be reached).
"""

import logging
import math
import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from wetech.models import Invoice, PaymentAttempt
from wetech.models.payments import OPEN_STATUSES, new_merchant_reference
from wetech.payments.gateways.base import (
    GatewayError,
    GatewayOutcomeUnknown,
    Payer,
    PaymentGateway,
    PaymentRequest,
    PushLimits,
)
from wetech.payments.gateways.registry import UnknownGateway, configured_gateways, gateway_named
from wetech.sales.selectors import invoice_balance_due

logger = logging.getLogger("wetech.payments")

Status = PaymentAttempt.Status


class PaymentNotAllowed(Exception):
    """The invoice cannot take a new payment (paid, void, in review) or the gateway is off."""


class PaymentInProgress(Exception):
    """Another payment with the same gateway was started for this invoice at the same moment."""


class PushLimited(Exception):
    """Too many push prompts for this invoice or this phone lately; nothing was sent.

    `limit` is "invoice" or "phone"; `retry_after` is how many seconds until one more is allowed.
    """

    def __init__(self, limit: str, retry_after: int, *, gateway: str = ""):
        super().__init__(f"{gateway} push limit per {limit} reached, retry after {retry_after}s")
        self.limit = limit
        self.retry_after = retry_after
        self.gateway = gateway


@dataclass(frozen=True)
class PaymentStart:
    attempt: PaymentAttempt
    # The gateway's answer was lost, but the attempt stays pending: it may have gone through.
    uncertain: bool = False


def _order_description(invoice: Invoice) -> str:
    """What the gateway's page shows the payer, in the invoice's language. The gateways' APIs
    take no language of their own, so none is sent."""
    with translation.override(invoice.language):
        return (gettext("WeTech invoice %(number)s") % {"number": invoice.number})[:100]


def _offers(gateway: PaymentGateway, invoice: Invoice) -> bool:
    return gateway.accepts(currency=invoice.currency, total=invoice.total)


def payment_options(invoice: Invoice) -> dict[str, bool]:
    """Which gateways the invoice page may offer, by name."""
    return {
        gateway.name: invoice.is_payable and _offers(gateway, invoice)
        for gateway in configured_gateways()
    }


def _attempt_open(
    *, invoice: Invoice, gateway: str, guard=None, **fields
) -> tuple[PaymentAttempt, list]:
    """Expire this gateway's open attempts and create a new one; returns (attempt, replaced).

    Locks the open attempts before the invoice: the same order settlement uses, so the two
    never deadlock. `guard(locked_invoice, now)` runs under those locks before anything is
    written; whatever it raises rolls the whole transaction back.
    """
    now = timezone.now()
    with transaction.atomic():
        replaced = list(
            PaymentAttempt.objects.select_for_update()
            .filter(invoice_id=invoice.pk, gateway=gateway, status__in=OPEN_STATUSES)
            .order_by("pk")
        )
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if not locked.is_payable:
            raise PaymentNotAllowed(f"invoice {locked.number} is {locked.status}")
        # The total, or what is left of it after an accepted short payment.
        amount = invoice_balance_due(locked)
        if amount <= 0:
            raise PaymentNotAllowed(f"invoice {locked.number} has nothing left to pay")
        if guard is not None:
            guard(locked, now)
        for old in replaced:
            old.status = Status.EXPIRED
            old.status_detail = "Replaced by a newer attempt"
            old.save(update_fields=["status", "status_detail", "updated_at"])
        try:
            with transaction.atomic():
                attempt = PaymentAttempt.objects.create(
                    invoice=locked,
                    gateway=gateway,
                    merchant_reference=new_merchant_reference(locked.number),
                    amount=amount,
                    currency=locked.currency,
                    expires_at=now + timedelta(minutes=settings.PAYMENT_ATTEMPT_TTL_MINUTES),
                    **fields,
                )
        except IntegrityError as exc:
            raise PaymentInProgress(
                f"a {gateway} payment for {locked.number} just started"
            ) from exc
    return attempt, replaced


def _attempt_close(attempt: PaymentAttempt, *, status: str, detail: str) -> None:
    """Move an attempt still initiated on to `status` (never one something else moved on)."""
    with transaction.atomic():
        locked = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status == Status.INITIATED:
            locked.status = status
            locked.status_detail = detail[:255]
            locked.save(update_fields=["status", "status_detail", "updated_at"])
    attempt.refresh_from_db()


def _attempt_opened(
    attempt: PaymentAttempt, *, gateway_reference: str, redirect_url: str = "", detail: str
) -> None:
    """Store what the gateway gave us; pending unless something already moved the attempt on."""
    with transaction.atomic():
        locked = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        # Kept even on an attempt replaced meanwhile: a late completion must still resolve.
        locked.gateway_reference = gateway_reference
        locked.redirect_url = redirect_url
        if locked.status == Status.INITIATED:
            locked.status = Status.PENDING
            locked.status_detail = detail[:255]
        locked.save()
    attempt.refresh_from_db()


@dataclass(frozen=True)
class OrderCancel:
    """What a gateway said when asked to cancel one attempt's order."""

    attempt: PaymentAttempt
    # Empty when the gateway took the cancellation (or had nothing to cancel).
    error: str = ""


def attempt_orders_cancel(*, attempts) -> list[OrderCancel]:
    """Best effort, outside any transaction: ask each attempt's gateway to cancel its order, so
    an attempt that was replaced (or whose invoice was voided) cannot be paid too. An attempt
    the gateway never named has no order to cancel and is skipped."""
    results = []
    for attempt in attempts:
        if not attempt.gateway_reference:
            continue
        try:
            gateway_named(attempt.gateway).cancel(attempt.gateway_reference)
        except (GatewayError, UnknownGateway) as exc:
            logger.info(
                "%s order of %s not cancelled: %s",
                attempt.gateway,
                attempt.merchant_reference,
                type(exc).__name__,
            )
            detail = getattr(exc, "message", "") or str(exc) or type(exc).__name__
            results.append(OrderCancel(attempt=attempt, error=detail))
            continue
        results.append(OrderCancel(attempt=attempt))
    return results


# The first key of the two-key advisory lock: "AZPH", so it meets no other lock of the site.
_PHONE_LOCK_SPACE = 0x415A5048


def _quota_wait(attempts, *, limit: int, minutes: int, now) -> int | None:
    """Seconds until one more attempt fits (None: it fits now) when at most `limit` may be
    created in `minutes`. A limit of 0 switches the check off."""
    if limit <= 0:
        return None
    window = timedelta(minutes=minutes)
    newest = list(
        attempts.filter(created_at__gt=now - window)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(newest) < limit:
        return None
    # One more fits once the oldest of the `limit` newest leaves the window.
    return max(1, math.ceil((newest[-1] + window - now).total_seconds()))


def _push_limits_check(
    gateway: PaymentGateway, limits: PushLimits, invoice: Invoice, phone: str, now
) -> None:
    """Raise PushLimited when this invoice or this phone had its quota of prompts lately.

    Counted from the attempt rows (every push attempt is one push we sent or tried to send),
    not the cache, so the limits hold when Redis is down. Runs under the invoice's row lock, so
    one invoice's count is exact; on PostgreSQL a transaction-scoped advisory lock on the phone
    serialises pushes to one phone across invoices too (SQLite's writers are serial anyway).
    """
    attempts = PaymentAttempt.objects.filter(gateway=gateway.name)
    wait = _quota_wait(
        attempts.filter(invoice_id=invoice.pk),
        limit=limits.per_invoice,
        minutes=limits.per_invoice_minutes,
        now=now,
    )
    if wait is not None:
        raise PushLimited("invoice", wait, gateway=gateway.name)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)",
                [_PHONE_LOCK_SPACE, zlib.crc32(phone.encode()) & 0x7FFFFFFF],
            )
    wait = _quota_wait(
        attempts.filter(payer_phone=phone),
        limit=limits.per_phone,
        minutes=limits.per_phone_minutes,
        now=now,
    )
    if wait is not None:
        raise PushLimited("phone", wait, gateway=gateway.name)


def _push_guard(gateway: PaymentGateway, phone: str):
    limits = gateway.push_limits() if gateway.push_to_phone else None
    if limits is None:
        return None
    return lambda locked, now: _push_limits_check(gateway, limits, locked, phone, now)


def payment_start(
    *, invoice: Invoice, gateway: str, phone: str = "", provider: str = ""
) -> PaymentStart:
    """Start collecting the invoice through the gateway called `gateway`.

    `phone` (E.164) and `provider` are the mobile-money account for a push gateway. Raises
    PaymentNotAllowed (invoice or gateway not available) or PaymentInProgress before anything
    is sent; PushLimited (nothing written, nothing sent) over a push gateway's limits; or the
    gateway's error, after closing the attempt.
    """
    try:
        chosen = gateway_named(gateway)
    except UnknownGateway as exc:
        raise PaymentNotAllowed(str(exc)) from exc
    if not (chosen.is_configured() and _offers(chosen, invoice)):
        raise PaymentNotAllowed(f"{chosen.label} is not available for this invoice")
    attempt, replaced = _attempt_open(
        invoice=invoice,
        gateway=chosen.name,
        guard=_push_guard(chosen, phone),
        payer_phone=phone,
        provider=provider,
    )
    try:
        started = chosen.start(
            PaymentRequest(
                merchant_reference=attempt.merchant_reference,
                amount=attempt.amount,
                currency=attempt.currency,
                description=_order_description(invoice),
                payer=Payer(
                    name=invoice.client_name,
                    email=invoice.client_email,
                    phone=invoice.client_phone,
                ),
                phone=phone,
                provider=provider,
            )
        )
    except GatewayOutcomeUnknown as exc:
        if chosen.pending_after_unknown_start:
            _attempt_close(
                attempt,
                status=Status.PENDING,
                detail=f"Sent, but {chosen.label}'s answer was lost",
            )
            return PaymentStart(attempt=attempt, uncertain=True)
        _attempt_close(attempt, status=Status.EXPIRED, detail=f"Outcome unknown: {exc.message}")
        raise
    except GatewayError as exc:
        _attempt_close(attempt, status=Status.FAILED, detail=f"{type(exc).__name__}: {exc.message}")
        raise
    except Exception:
        _attempt_close(attempt, status=Status.FAILED, detail="Could not start the payment")
        raise
    _attempt_opened(
        attempt,
        gateway_reference=started.gateway_reference,
        redirect_url=started.redirect_url,
        detail=started.detail or f"Waiting for the customer ({chosen.label})",
    )
    attempt_orders_cancel(attempts=replaced)
    return PaymentStart(attempt=attempt)
