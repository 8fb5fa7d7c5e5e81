"""The gateways' messages: record each one first, then learn the truth and settle.

Steps 1-3 of the pipeline (architecture.md): the raw message is saved in its own transaction
before anything else, so it survives a failed settlement and can be replayed from the admin;
the attempt is found by OUR stored mapping only; and the truth comes from the gateway (Pesapal
GetTransactionStatus; AzamPay under the trust rules of gateways.md B7), never from the message.
"""

import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.utils import timezone

from wetech.client_ip import client_ip
from wetech.json_input import UnreadableJSON, storable_text
from wetech.json_input import loads as json_loads
from wetech.models import GatewayNotification, PaymentAttempt
from wetech.models.payments import Gateway
from wetech.payments.gateways import get_azampay_client, get_pesapal_client
from wetech.payments.gateways.azampay import parse_callback
from wetech.payments.gateways.base import (
    COMPLETED,
    FAILED,
    PENDING,
    AzamPayCallback,
    GatewayError,
)
from wetech.payments.settlement import GatewayFinding, SettleResult, attempt_settle
from wetech.payments.status_queries import StatusQueryCoalesced, status_query
from wetech.redaction import is_personal_key, is_secret_key, redact, redact_text, redact_value

logger = logging.getLogger("wetech.payments")

Result = GatewayNotification.Result
Kind = GatewayNotification.Kind

# Headers worth keeping for a dispute; cookies and the like are dropped entirely.
_KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "User-Agent",
    "X-Forwarded-For",
    "X-Request-ID",
    "X-Pesapal-Signature",
    "Accept",
    "Host",
)
_FAILURE_WORDS = frozenset({"failure", "failed", "fail", "cancelled", "canceled", "rejected"})
# Attempt states that already hold the gateway's final word: a coalesced repeat is a duplicate.
SETTLED_STATES = frozenset(
    {
        PaymentAttempt.Status.COMPLETED,
        PaymentAttempt.Status.FAILED,
        PaymentAttempt.Status.REVERSED,
        PaymentAttempt.Status.NEEDS_REVIEW,
    }
)


class MalformedNotification(ValueError):
    """A message we cannot read at all (no reference, body not JSON): answered with a 400."""


@dataclass(frozen=True)
class PesapalFields:
    tracking_id: str
    merchant_reference: str
    notification_type: str


@dataclass(frozen=True)
class InboxOutcome:
    notification: GatewayNotification
    result: str
    attempt: PaymentAttempt | None = None
    settle: SettleResult | None = None
    # Pesapal: the ids as received, which the IPN acknowledgement echoes.
    pesapal: PesapalFields | None = None

    @property
    def processed(self) -> bool:
        return self.result != Result.ERROR


def _redact_fields(value):
    """Mask secret and personal keys only: ids and amounts must stay exact for a replay."""
    if isinstance(value, dict):
        return {
            key: redact_value(key, item)
            if is_secret_key(key) or is_personal_key(key)
            else _redact_fields(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_fields(item) for item in value]
    return value


def _storable(text: str) -> str:
    """PostgreSQL text and JSON columns refuse NUL and lone surrogates: a replacement character
    keeps the rest of a hostile message storable and readable (SQLite would keep a NUL, so both
    behave the same)."""
    return storable_text(text)


def _capped(text: str, limit: int, *, keep_end: bool = False) -> str:
    """`text` cut to at most `limit` characters, the cut marked (at the start with `keep_end`)."""
    if len(text) <= limit:
        return text
    mark = GatewayNotification.TRUNCATION_MARK
    keep = limit - len(mark)
    return mark + text[-keep:] if keep_end else text[:keep] + mark


def _stored_body(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json_loads(text) if text.strip() else None
    except UnreadableJSON:
        parsed = None
    if isinstance(parsed, dict | list):
        text = json.dumps(_redact_fields(parsed), ensure_ascii=False)
    elif "=" in text and "{" not in text:
        text = _stored_query(text, limit=GatewayNotification.MAX_BODY_CHARS)
    else:
        text = redact_text(text)
    return _capped(_storable(text), GatewayNotification.MAX_BODY_CHARS)


def _stored_query(query: str, *, limit: int = GatewayNotification.MAX_QUERY_CHARS) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    text = "&".join(
        f"{key}={redact_value(key, value) if is_secret_key(key) or is_personal_key(key) else value}"
        for key, value in pairs
    )
    return _capped(_storable(text), limit)


def notification_record(*, gateway: str, kind: str, request) -> GatewayNotification:
    """Save the message as received (minus secrets), committed at once.

    Raises MalformedNotification, after saving it as rejected, when the body cannot be read.
    """
    kept = {
        name: _storable(request.headers[name]) for name in _KEPT_HEADERS if name in request.headers
    }
    # Redacted whole, then cut; X-Forwarded-For keeps its end: our own proxies append there.
    headers = {
        name: _capped(
            value, GatewayNotification.MAX_HEADER_CHARS, keep_end=name == "X-Forwarded-For"
        )
        for name, value in redact(kept).items()
    }
    unreadable = ""
    try:
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            body = urlencode(list(request.POST.items())).encode()
        else:
            body = request.body
    except Exception as exc:
        # Too big, a file part (refused before it is spooled), a broken multipart or charset:
        # keep the fact, not the body, and refuse the message once it is recorded.
        body = b""
        unreadable = f"the body could not be read ({type(exc).__name__})"
    # Called outside any transaction, so the INSERT commits on its own: the message is kept
    # whatever happens to its settlement.
    notification = GatewayNotification.objects.create(
        gateway=gateway,
        kind=kind,
        method=request.method[:8],
        headers=headers,
        query_string=_stored_query(request.META.get("QUERY_STRING", "")),
        body=_stored_body(body),
        remote_ip=client_ip(request) or None,
    )
    if unreadable:
        _finish(notification, Result.REJECTED, error=unreadable)
        raise MalformedNotification(unreadable)
    return notification


def _finish(notification, result, *, attempt=None, error="") -> None:
    notification.result = result
    notification.attempt = attempt or notification.attempt
    notification.error = error[:2000]
    notification.processed_at = timezone.now()
    notification.save(update_fields=["result", "attempt", "error", "processed_at"])


def _result_of(settled: SettleResult) -> str:
    if settled.changed:
        return Result.APPLIED
    return Result.DUPLICATE if settled.duplicate else Result.IGNORED


def _coalesced(notification, attempt, coalesced: StatusQueryCoalesced, **fields) -> InboxOutcome:
    """A repeat inside the status window: answered from the attempt's state, no gateway call."""
    attempt.refresh_from_db()
    result = Result.DUPLICATE if attempt.status in SETTLED_STATES else Result.IGNORED
    _finish(notification, result, attempt=attempt, error=f"not asked again: {coalesced.reason}")
    return InboxOutcome(notification=notification, result=result, attempt=attempt, **fields)


# --- Pesapal ------------------------------------------------------------------------------------


def pesapal_fields(notification: GatewayNotification) -> PesapalFields:
    """The three ids from the query string and/or the body (JSON PascalCase or camelCase, or
    form-encoded). Raises MalformedNotification."""
    found: dict[str, str] = {}

    def take(pairs):
        for key, value in pairs:
            if isinstance(value, str | int) and str(value).strip():
                found.setdefault(str(key).lower(), str(value).strip())

    take(parse_qsl(notification.query_string, keep_blank_values=True))
    body = notification.body.strip()
    if body:
        if body.startswith(("{", "[")):
            try:
                parsed = json_loads(body)
            except UnreadableJSON as exc:
                raise MalformedNotification(str(exc)) from exc
            if not isinstance(parsed, dict):
                raise MalformedNotification("the JSON body is not an object")
            take(parsed.items())
        else:
            take(parse_qsl(body, keep_blank_values=True))
    tracking_id = found.get("ordertrackingid", "")
    if not tracking_id or len(tracking_id) > 100:
        raise MalformedNotification("no OrderTrackingId")
    return PesapalFields(
        tracking_id=tracking_id,
        merchant_reference=found.get("ordermerchantreference", "")[:100],
        notification_type=found.get("ordernotificationtype", "")[:40],
    )


def pesapal_finding(attempt: PaymentAttempt) -> GatewayFinding:
    """Ask Pesapal (raises GatewayError). Never call inside a transaction."""
    status = get_pesapal_client().get_transaction_status(attempt.gateway_reference)
    raw = status.raw if isinstance(status.raw, dict) else {}
    detail = " ".join(
        str(part)
        for part in (
            raw.get("payment_status_description"),
            raw.get("payment_status_code"),
            status.description,
        )
        if part
    )
    return GatewayFinding(
        status=status.status,
        amount=status.amount,
        currency=status.currency,
        merchant_reference=status.merchant_reference,
        gateway_reference=status.order_tracking_id,
        confirmation_code=status.confirmation_code,
        payment_method=status.payment_method,
        detail=f"Pesapal: {detail}" if detail else "",
    )


def pesapal_notification_process(
    *, notification: GatewayNotification, bypass_window: bool = False
) -> InboxOutcome:
    """Settle what a Pesapal IPN or browser return points at. Raises MalformedNotification.

    Repeats are coalesced (`status_queries`) unless `bypass_window`.
    """
    try:
        fields = pesapal_fields(notification)
    except MalformedNotification as exc:
        _finish(notification, Result.REJECTED, error=str(exc))
        raise
    attempt = PaymentAttempt.objects.filter(
        gateway=Gateway.PESAPAL, gateway_reference=fields.tracking_id
    ).first()
    if attempt is None:
        logger.warning("pesapal notification for an unknown order ignored")
        _finish(notification, Result.IGNORED, error="unknown OrderTrackingId")
        return InboxOutcome(notification=notification, result=Result.IGNORED, pesapal=fields)
    if fields.merchant_reference and fields.merchant_reference != attempt.merchant_reference:
        logger.warning("pesapal notification with a foreign merchant reference rejected")
        _finish(
            notification,
            Result.REJECTED,
            attempt=attempt,
            error="OrderMerchantReference does not match the order's",
        )
        return InboxOutcome(
            notification=notification, result=Result.REJECTED, attempt=attempt, pesapal=fields
        )
    try:
        finding = status_query(
            gateway=Gateway.PESAPAL,
            attempt_id=attempt.pk,
            ask=lambda: pesapal_finding(attempt),
            bypass_window=bypass_window,
        )
    except StatusQueryCoalesced as coalesced:
        return _coalesced(notification, attempt, coalesced, pesapal=fields)
    except GatewayError as exc:
        logger.warning(
            "pesapal status of %s unavailable: %s",
            attempt.merchant_reference,
            type(exc).__name__,
        )
        _finish(notification, Result.ERROR, attempt=attempt, error=f"{type(exc).__name__}")
        return InboxOutcome(
            notification=notification, result=Result.ERROR, attempt=attempt, pesapal=fields
        )
    settled = attempt_settle(
        attempt_id=attempt.pk, finding=finding, source=f"pesapal {notification.kind}"
    )
    result = _result_of(settled)
    _finish(notification, result, attempt=settled.attempt)
    return InboxOutcome(
        notification=notification,
        result=result,
        attempt=settled.attempt,
        settle=settled,
        pesapal=fields,
    )


# --- AzamPay ------------------------------------------------------------------------------------


def azampay_callback_parse(notification: GatewayNotification) -> AzamPayCallback:
    try:
        payload = json_loads(notification.body or "null")
        return parse_callback(payload)
    except ValueError as exc:
        raise MalformedNotification(str(exc) or "the body is not valid JSON") from exc


def _callback_status(callback: AzamPayCallback) -> str:
    if callback.is_success:
        return COMPLETED
    if callback.transaction_status.strip().lower() in _FAILURE_WORDS:
        return FAILED
    return PENDING


def azampay_asks(attempt: PaymentAttempt, callback: AzamPayCallback | None = None) -> bool:
    """Does `azampay_finding` call AzamPay's status query (rather than read the callback)?"""
    reference = attempt.gateway_reference or (callback.reference if callback else "")
    return bool(settings.AZAMPAY_STATUS_QUERY and reference)


def azampay_finding(
    attempt: PaymentAttempt, callback: AzamPayCallback | None = None
) -> GatewayFinding:
    """The truth about an AzamPay attempt (gateways.md B7). Raises GatewayError.

    With the status query on, its answer decides the state and the callback only supplies the
    amount to check; without it the callback (already past the secret path and the checks in
    `attempt_settle`) is all there is, and the daily reconciliation is the safety net.
    """
    reference = attempt.gateway_reference or (callback.reference if callback else "")
    if azampay_asks(attempt, callback):
        answer = get_azampay_client().get_transaction_status(reference, attempt.provider)
        status = answer.status
        detail = f"AzamPay status: {answer.message or answer.status}"
    elif callback is not None:
        status = _callback_status(callback)
        detail = f"AzamPay callback: {callback.transaction_status} {callback.message}".strip()
    else:
        return GatewayFinding(status=PENDING, detail="No way to ask AzamPay")
    if callback is not None:
        amount = callback.amount
        merchant_reference = callback.utility_ref
    else:
        # Our own status query on the transaction WE created: its amount is the one we pushed.
        amount = attempt.amount
        merchant_reference = attempt.merchant_reference
    return GatewayFinding(
        status=status,
        amount=amount,
        # AzamPay collects TZS only (gateways.md B3); the callback names no currency.
        currency="TZS",
        merchant_reference=merchant_reference,
        # A callback's own reference only: one that omits it must not borrow ours and pass.
        gateway_reference=callback.reference if callback is not None else attempt.gateway_reference,
        confirmation_code=(callback.mno_reference if callback else ""),
        payment_method=(callback.operator if callback else "") or attempt.provider,
        detail=detail,
    )


def azampay_callback_process(
    *, notification: GatewayNotification, bypass_window: bool = False
) -> InboxOutcome:
    """Settle an AzamPay callback whose secret path was already verified.

    Raises MalformedNotification. With the status query on, repeats are coalesced like Pesapal's
    (unless `bypass_window`); without it the callback itself is the news, so it is never skipped.
    """
    try:
        callback = azampay_callback_parse(notification)
    except MalformedNotification as exc:
        _finish(notification, Result.REJECTED, error=str(exc))
        raise
    attempt = PaymentAttempt.objects.filter(
        gateway=Gateway.AZAMPAY, merchant_reference=callback.utility_ref
    ).first()
    if attempt is None:
        logger.warning("azampay callback for an unknown reference ignored")
        _finish(notification, Result.IGNORED, error="unknown utilityref")
        return InboxOutcome(notification=notification, result=Result.IGNORED)
    if (
        callback.reference
        and attempt.gateway_reference
        and callback.reference != attempt.gateway_reference
        and not callback.is_success
    ):
        # A failure for some other transaction must not fail ours; a "success" with a foreign
        # reference goes on to settlement, which sends it to review.
        _finish(
            notification,
            Result.REJECTED,
            attempt=attempt,
            error="reference does not match the stored transactionId",
        )
        return InboxOutcome(notification=notification, result=Result.REJECTED, attempt=attempt)
    try:
        if azampay_asks(attempt, callback):
            finding = status_query(
                gateway=Gateway.AZAMPAY,
                attempt_id=attempt.pk,
                ask=lambda: azampay_finding(attempt, callback),
                bypass_window=bypass_window,
            )
        else:
            finding = azampay_finding(attempt, callback)
    except StatusQueryCoalesced as coalesced:
        return _coalesced(notification, attempt, coalesced)
    except GatewayError as exc:
        logger.warning(
            "azampay status of %s unavailable: %s",
            attempt.merchant_reference,
            type(exc).__name__,
        )
        _finish(notification, Result.ERROR, attempt=attempt, error=f"{type(exc).__name__}")
        return InboxOutcome(notification=notification, result=Result.ERROR, attempt=attempt)
    settled = attempt_settle(attempt_id=attempt.pk, finding=finding, source="azampay callback")
    result = _result_of(settled)
    _finish(notification, result, attempt=settled.attempt)
    return InboxOutcome(
        notification=notification, result=result, attempt=settled.attempt, settle=settled
    )


def azampay_callback_refuse(*, request, reason: str) -> GatewayNotification:
    """Record a callback refused before it was read (its source is not allowed). It is not
    settled; staff may still re-process it from the admin once they trust where it came from."""
    notification = notification_record(gateway=Gateway.AZAMPAY, kind=Kind.CALLBACK, request=request)
    _finish(notification, Result.REJECTED, error=reason)
    return notification


def notification_reprocess(
    *, notification: GatewayNotification, bypass_window: bool = False
) -> InboxOutcome:
    """Run a stored message through its pipeline again (admin action: it asks the gateway now)."""
    if notification.gateway == Gateway.PESAPAL:
        return pesapal_notification_process(notification=notification, bypass_window=bypass_window)
    return azampay_callback_process(notification=notification, bypass_window=bypass_window)
