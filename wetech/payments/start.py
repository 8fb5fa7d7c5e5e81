"""Starting a payment: one attempt per click, with Pesapal (hosted page) or AzamPay (MNO push).

The attempt row is written in a short transaction before the gateway is called and the call
happens outside any transaction, so a slow gateway never holds a lock. Whatever the gateway
does, the attempt is never left "initiated": it becomes pending (the gateway took it), failed
(it provably did not) or expired (we cannot know; Pesapal only, since without the tracking id
the customer can never reach that order's page).
"""

import logging
import math
import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from wetech.models import Invoice, PaymentAttempt
from wetech.models.payments import OPEN_STATUSES, Gateway, new_merchant_reference
from wetech.payments.gateways import (
    azampay_configured,
    get_azampay_client,
    get_pesapal_client,
    pesapal_configured,
    pesapal_notification_id,
)
from wetech.payments.gateways.base import (
    BillingAddress,
    GatewayError,
    GatewayOutcomeUnknown,
    MnoCheckoutRequest,
    OrderRequest,
)

logger = logging.getLogger("wetech.payments")

Status = PaymentAttempt.Status


class PaymentNotAllowed(Exception):
    """The invoice cannot take a new payment (paid, void, in review) or the gateway is off."""


class PaymentInProgress(Exception):
    """Another payment with the same gateway was started for this invoice at the same moment."""


class PushLimited(Exception):
    """Too many AzamPay prompts for this invoice or this phone lately; nothing was sent.

    `limit` is "invoice" or "phone"; `retry_after` is how many seconds until one more is allowed.
    """

    def __init__(self, limit: str, retry_after: int):
        super().__init__(f"azampay push limit per {limit} reached, retry after {retry_after}s")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class PaymentStart:
    attempt: PaymentAttempt
    # AzamPay: the push may or may not have reached the phone.
    uncertain: bool = False


def pesapal_callback_url() -> str:
    return f"{settings.SITE_URL}/payments/pesapal/callback/"


def azampay_available(invoice: Invoice) -> bool:
    """AzamPay collects whole Tanzanian shillings only."""
    return (
        azampay_configured()
        and invoice.currency == "TZS"
        and invoice.total == invoice.total.to_integral_value()
    )


def payment_options(invoice: Invoice) -> dict:
    """Which gateways the invoice page may offer."""
    return {
        "pesapal": invoice.is_payable and pesapal_configured(),
        "azampay": invoice.is_payable and azampay_available(invoice),
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
                    amount=locked.total,
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


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first[:60], last.strip()[:60]


def _cancel_replaced_pesapal(replaced: list[PaymentAttempt]) -> None:
    """Best effort: kill the Pesapal orders of replaced attempts so they cannot be paid too."""
    for old in replaced:
        if not old.gateway_reference:
            continue
        try:
            get_pesapal_client().cancel_order(old.gateway_reference)
        except GatewayError as exc:
            logger.info(
                "pesapal order of %s not cancelled: %s", old.merchant_reference, type(exc).__name__
            )


def payment_start_pesapal(*, invoice: Invoice) -> PaymentStart:
    """Create a Pesapal order for the invoice. Raises PaymentNotAllowed, PaymentInProgress or
    the gateway's error (after closing the attempt)."""
    if not pesapal_configured():
        raise PaymentNotAllowed("Pesapal is not configured")
    attempt, replaced = _attempt_open(invoice=invoice, gateway=Gateway.PESAPAL)
    first_name, last_name = _split_name(invoice.client_name)
    try:
        order = OrderRequest(
            merchant_reference=attempt.merchant_reference,
            amount=attempt.amount,
            currency=attempt.currency,
            description=f"WeTech invoice {invoice.number}"[:100],
            callback_url=pesapal_callback_url(),
            notification_id=pesapal_notification_id(),
            billing=BillingAddress(
                email=invoice.client_email,
                phone=invoice.client_phone,
                first_name=first_name,
                last_name=last_name,
            ),
        )
        session = get_pesapal_client().submit_order(order)
    except GatewayOutcomeUnknown as exc:
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
        gateway_reference=session.order_tracking_id,
        redirect_url=session.redirect_url,
        detail="Waiting for the customer on Pesapal's page",
    )
    _cancel_replaced_pesapal(replaced)
    return PaymentStart(attempt=attempt)


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


def _push_limits_check(invoice: Invoice, phone: str, now) -> None:
    """Raise PushLimited when this invoice or this phone had its quota of prompts lately.

    Counted from the attempt rows (every AzamPay attempt is one push we sent or tried to send),
    not the cache, so the limits hold when Redis is down. Runs under the invoice's row lock, so
    one invoice's count is exact; on PostgreSQL a transaction-scoped advisory lock on the phone
    serialises pushes to one phone across invoices too (SQLite's writers are serial anyway).
    """
    attempts = PaymentAttempt.objects.filter(gateway=Gateway.AZAMPAY)
    wait = _quota_wait(
        attempts.filter(invoice_id=invoice.pk),
        limit=settings.AZAMPAY_PUSHES_PER_INVOICE,
        minutes=settings.AZAMPAY_PUSHES_PER_INVOICE_MINUTES,
        now=now,
    )
    if wait is not None:
        raise PushLimited("invoice", wait)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)",
                [_PHONE_LOCK_SPACE, zlib.crc32(phone.encode()) & 0x7FFFFFFF],
            )
    wait = _quota_wait(
        attempts.filter(payer_phone=phone),
        limit=settings.AZAMPAY_PUSHES_PER_PHONE,
        minutes=settings.AZAMPAY_PUSHES_PER_PHONE_MINUTES,
        now=now,
    )
    if wait is not None:
        raise PushLimited("phone", wait)


def payment_start_azampay(*, invoice: Invoice, phone: str, provider: str) -> PaymentStart:
    """Push a mobile-money prompt to `phone` (E.164). Raises like `payment_start_pesapal`, and
    PushLimited (nothing written, nothing sent) over the per-invoice or per-phone limit."""
    if not azampay_available(invoice):
        raise PaymentNotAllowed("AzamPay is not available for this invoice")
    attempt, _ = _attempt_open(
        invoice=invoice,
        gateway=Gateway.AZAMPAY,
        guard=lambda locked, now: _push_limits_check(locked, phone, now),
        payer_phone=phone,
        provider=provider,
    )
    try:
        checkout = get_azampay_client().mno_checkout(
            MnoCheckoutRequest(
                external_id=attempt.merchant_reference,
                phone=phone,
                amount=attempt.amount,
                currency=attempt.currency,
                provider=provider,
            )
        )
    except GatewayOutcomeUnknown:
        # The push may have reached the phone; its callback will carry our reference.
        with transaction.atomic():
            locked = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
            if locked.status == Status.INITIATED:
                locked.status = Status.PENDING
                locked.status_detail = "Push sent but AzamPay's answer was lost"
                locked.save(update_fields=["status", "status_detail", "updated_at"])
        attempt.refresh_from_db()
        return PaymentStart(attempt=attempt, uncertain=True)
    except GatewayError as exc:
        _attempt_close(attempt, status=Status.FAILED, detail=f"{type(exc).__name__}: {exc.message}")
        raise
    except Exception:
        _attempt_close(attempt, status=Status.FAILED, detail="Could not start the payment")
        raise
    _attempt_opened(
        attempt,
        gateway_reference=checkout.transaction_id,
        detail="Waiting for the customer to approve the prompt",
    )
    return PaymentStart(attempt=attempt)


def invoice_payment_state(invoice: Invoice) -> dict:
    """What the invoice page shows about payments: the latest attempt and the receipt."""
    attempts = list(invoice.payment_attempts.order_by("-created_at", "-pk")[:10])
    latest = attempts[0] if attempts else None
    receipt = next(
        (a for a in attempts if a.status == Status.COMPLETED and not a.needs_refund), None
    )
    return {
        "latest_attempt": latest,
        "waiting": latest is not None and latest.is_open,
        "failed": latest is not None and latest.status in (Status.FAILED, Status.EXPIRED),
        "receipt": receipt if invoice.status == Invoice.Status.PAID else None,
    }
