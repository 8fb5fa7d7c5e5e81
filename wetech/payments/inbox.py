"""The gateways' messages: record each one first, then learn the truth and settle.

Steps 1-3 of the pipeline (architecture.md), the same for every gateway: the raw message is
saved in its own transaction before anything else, so it survives a failed settlement and can
be replayed from the admin; the gateway reads it (`parse_notification`); the attempt is found by
OUR stored mapping only; and the truth comes from the gateway's status query where it can be
asked (coalesced, `status_queries`), judged with the message by the gateway's own trust rules
(`judge`), never from the message alone unless the gateway says its messages carry the news.
"""

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from django.utils import timezone

from wetech.client_ip import client_ip
from wetech.json_input import UnreadableJSON, storable_text
from wetech.json_input import loads as json_loads
from wetech.models import GatewayNotification, PaymentAttempt
from wetech.payments.gateways.base import (
    GatewayError,
    MalformedNotification,
    ParsedNotification,
    PaymentFinding,
    PaymentGateway,
    PaymentStatus,
)
from wetech.payments.gateways.registry import gateway_named
from wetech.payments.settlement import SettleResult, attempt_ref, attempt_settle
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
# Attempt states that already hold the gateway's final word: a coalesced repeat is a duplicate.
SETTLED_STATES = frozenset(
    {
        PaymentAttempt.Status.COMPLETED,
        PaymentAttempt.Status.FAILED,
        PaymentAttempt.Status.REVERSED,
        PaymentAttempt.Status.NEEDS_REVIEW,
    }
)


@dataclass(frozen=True)
class InboxOutcome:
    notification: GatewayNotification
    result: str
    attempt: PaymentAttempt | None = None
    settle: SettleResult | None = None
    # What the gateway read from the message; its acknowledgement echoes it.
    parsed: ParsedNotification | None = None

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


def _exact_json(value) -> str:
    """`json.dumps(value)` writing each Decimal (a JSON number read with `parse_float=Decimal`)
    as exactly the digits it arrived with: `60000.0` stays `60000.0`, and an amount of more
    digits than a float holds is not rounded on its way into the inbox (the inbox copy is what
    gets settled and replayed).

    Each Decimal is dumped as a placeholder string of NULs around its index, then swapped for
    its digits. No string can collide with one: `json_input` has replaced every NUL."""
    numbers: list[Decimal] = []

    def placeholder(number):
        if not isinstance(number, Decimal):
            raise TypeError(f"{type(number).__name__} is not JSON")
        numbers.append(number)
        return f"\0{len(numbers) - 1}\0"

    text = json.dumps(value, ensure_ascii=False, default=placeholder)
    for index, number in enumerate(numbers):
        text = text.replace(f'"\\u0000{index}\\u0000"', str(number), 1)
    return text


def _stored_body(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json_loads(text, parse_float=Decimal) if text.strip() else None
    except UnreadableJSON:
        parsed = None
    if isinstance(parsed, dict | list):
        text = _exact_json(_redact_fields(parsed))
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
        if request.content_type == "multipart/form-data":
            body = urlencode(list(request.POST.items())).encode()
        else:
            # The bytes as sent, whatever the Content-Type claims: the gateways' content types
            # are undocumented, and a JSON body labelled as a form must still be read as JSON.
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


def _coalesced(notification, attempt, coalesced: StatusQueryCoalesced, parsed) -> InboxOutcome:
    """A repeat inside the status window: answered from the attempt's state, no gateway call."""
    attempt.refresh_from_db()
    result = Result.DUPLICATE if attempt.status in SETTLED_STATES else Result.IGNORED
    _finish(notification, result, attempt=attempt, error=f"not asked again: {coalesced.reason}")
    return InboxOutcome(notification=notification, result=result, attempt=attempt, parsed=parsed)


def _refusal(parsed: ParsedNotification, attempt: PaymentAttempt) -> str:
    """Why a message about a known attempt must not move it, or ""."""
    if parsed.reject_reason:
        return parsed.reject_reason
    if parsed.merchant_reference and parsed.merchant_reference != attempt.merchant_reference:
        return "the message names another merchant reference than the attempt's"
    news = parsed.finding
    if (
        news is not None
        and news.status != PaymentStatus.COMPLETED
        and news.gateway_reference
        and attempt.gateway_reference
        and news.gateway_reference != attempt.gateway_reference
    ):
        # A failure for some other transaction must not fail ours; a completion naming another
        # one goes on to settlement, which sends it to review.
        return "the message names another gateway reference than the attempt's"
    return ""


def notification_process(
    *, notification: GatewayNotification, bypass_window: bool = False
) -> InboxOutcome:
    """Settle what a recorded message is about, whichever gateway sent it.

    Raises MalformedNotification (after marking the message rejected) when the gateway cannot
    read it. Status queries are coalesced (`status_queries`) unless `bypass_window`: staff's
    re-process and the concurrency tests always ask.
    """
    gateway = gateway_named(notification.gateway)
    try:
        parsed = gateway.parse_notification(
            query_string=notification.query_string, body=notification.body
        )
    except MalformedNotification as exc:
        _finish(notification, Result.REJECTED, error=str(exc))
        raise
    # An empty reference must never match an attempt the gateway has not named yet.
    attempt = (
        PaymentAttempt.objects.filter(
            gateway=gateway.name, **{parsed.lookup_field: parsed.lookup_value}
        ).first()
        if parsed.lookup_value
        else None
    )
    if attempt is None:
        logger.warning("%s %s for an unknown payment ignored", gateway.name, notification.kind)
        _finish(notification, Result.IGNORED, error=f"unknown {parsed.lookup_field}")
        return InboxOutcome(notification=notification, result=Result.IGNORED, parsed=parsed)
    refusal = _refusal(parsed, attempt)
    if refusal:
        logger.warning("%s %s rejected: %s", gateway.name, notification.kind, refusal)
        _finish(notification, Result.REJECTED, attempt=attempt, error=refusal)
        return InboxOutcome(
            notification=notification, result=Result.REJECTED, attempt=attempt, parsed=parsed
        )
    news = parsed.finding
    ref = attempt_ref(attempt, gateway_reference=news.gateway_reference if news else "")
    queried: PaymentFinding | None = None
    if gateway.can_query_status(ref):
        try:
            queried = status_query(
                gateway=gateway.name,
                attempt_id=attempt.pk,
                ask=lambda: gateway.query_status(ref),
                bypass_window=bypass_window,
            )
        except StatusQueryCoalesced as coalesced:
            return _coalesced(notification, attempt, coalesced, parsed)
        except GatewayError as exc:
            logger.warning(
                "%s status of %s unavailable: %s",
                gateway.name,
                attempt.merchant_reference,
                type(exc).__name__,
            )
            if news is None:
                # Only the query could tell, so the message waits for the gateway's next try.
                _finish(notification, Result.ERROR, attempt=attempt, error=type(exc).__name__)
                return InboxOutcome(
                    notification=notification, result=Result.ERROR, attempt=attempt, parsed=parsed
                )
            # The message carries its own news: judged as if the query were off.
    return _settle(notification, gateway, parsed, attempt, gateway.judge(parsed, ref, queried))


def _settle(
    notification,
    gateway: PaymentGateway,
    parsed: ParsedNotification,
    attempt: PaymentAttempt,
    finding: PaymentFinding | None,
) -> InboxOutcome:
    if finding is None:
        _finish(notification, Result.IGNORED, attempt=attempt, error="nothing to settle")
        return InboxOutcome(
            notification=notification, result=Result.IGNORED, attempt=attempt, parsed=parsed
        )
    settled = attempt_settle(
        attempt_id=attempt.pk,
        invoice_id=attempt.invoice_id,
        finding=finding,
        source=f"{gateway.name} {notification.kind}",
        # Marked in the settlement's transaction: the message says "applied" exactly when it was.
        record=lambda done: _finish(notification, _result_of(done), attempt=done.attempt),
    )
    result = _result_of(settled)
    return InboxOutcome(
        notification=notification,
        result=result,
        attempt=settled.attempt,
        settle=settled,
        parsed=parsed,
    )


def notification_refuse(*, gateway: str, kind: str, request, reason: str) -> GatewayNotification:
    """Record a message refused before it was read (e.g. its source is not allowed). It is not
    settled; staff may still re-process it from the admin once they trust where it came from."""
    notification = notification_record(gateway=gateway, kind=kind, request=request)
    _finish(notification, Result.REJECTED, error=reason)
    return notification
