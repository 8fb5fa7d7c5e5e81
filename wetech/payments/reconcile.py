"""Reconciliation: ask the gateways about attempts nobody told us the end of.

Notifications get lost (IPN URL down, AzamPay sandbox silence, a deploy at the wrong second),
so `reconcile_payments` re-queries unsettled attempts through the same settlement as the
callbacks. Each attempt is asked less often as it ages (2, 4, 8... minutes, at most every 6
hours); open attempts past their expiry that the gateway still calls pending are expired, and
expired ones are still asked for a week so a late success is credited, not lost. An attempt of
the last week that got a notification after our last question is asked at once, whatever its
state: the notification may have been answered from the status window without asking.

A completed payment with a refund in flight is asked too, on the same schedule, until the gateway
reports it reversed (which completes the refund through the same settlement); staff are told
once when a refund has waited longer than `REFUND_ALERT_AFTER_DAYS`.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from wetech.models import GatewayNotification, PaymentAttempt, Refund
from wetech.models.payments import OPEN_STATUSES
from wetech.payments import emails as payment_emails
from wetech.payments.gateways.base import GatewayError, GatewayUnavailable, PaymentGateway
from wetech.payments.gateways.registry import UnknownGateway, gateway_named
from wetech.payments.inbox import SETTLED_STATES
from wetech.payments.settlement import SettleResult, attempt_expire, attempt_ref, attempt_settle
from wetech.payments.status_queries import StatusQueryCoalesced, status_query

logger = logging.getLogger("wetech.payments")

Status = PaymentAttempt.Status

MAX_BACKOFF = timedelta(hours=6)
LATE_SUCCESS_WINDOW = timedelta(days=7)


@dataclass
class ReconcileReport:
    lines: list[str] = field(default_factory=list)
    checked: int = 0
    changed: int = 0
    expired: int = 0
    skipped: int = 0
    needs_person: list[str] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.needs_person or self.unreachable or self.errors)

    def summary(self) -> str:
        text = (
            f"checked {self.checked}, changed {self.changed}, expired {self.expired}, "
            f"not due yet {self.skipped}, need a person {len(self.needs_person)}"
        )
        if self.unreachable:
            text += f", unreachable: {', '.join(sorted(self.unreachable))}"
        if self.errors:
            text += f", errors {len(self.errors)}"
        return text


def attempt_backoff(check_count: int) -> timedelta:
    return min(timedelta(minutes=2 ** min(check_count, 20)), MAX_BACKOFF)


def attempt_due(attempt: PaymentAttempt, *, now: datetime) -> bool:
    if attempt.last_checked_at is None:
        return True
    # A notification arrived after our last question (one answered from what we knew, within
    # the status window, or one the gateway could not be asked about): ask now, not in hours.
    if getattr(attempt, "has_news", False):
        return True
    return now - attempt.last_checked_at >= attempt_backoff(attempt.check_count)


def _askable_gateway(attempt: PaymentAttempt) -> PaymentGateway | None:
    """The attempt's gateway when it can be asked about the attempt now, else None."""
    try:
        gateway = gateway_named(attempt.gateway)
    except UnknownGateway:
        logger.warning("attempt %s: %s is not a registered gateway", attempt.pk, attempt.gateway)
        return None
    return gateway if gateway.can_query_status(attempt_ref(attempt)) else None


def attempt_recheck(*, attempt: PaymentAttempt, bypass_window: bool = False) -> SettleResult | None:
    """Ask the gateway about the attempt and settle; None when it cannot be asked.

    The reconciler and staff pass `bypass_window=True` and always ask; otherwise a query about
    the attempt in flight or answered moments ago stands, and the attempt is returned unchanged.
    Raises GatewayError when the gateway cannot answer.
    """
    gateway = _askable_gateway(attempt)
    if gateway is None:
        return None
    ref = attempt_ref(attempt)
    try:
        finding = status_query(
            gateway=gateway.name,
            attempt_id=attempt.pk,
            ask=lambda: gateway.query_status(ref),
            bypass_window=bypass_window,
        )
    except StatusQueryCoalesced:
        attempt.refresh_from_db()
        return SettleResult(
            attempt=attempt, changed=False, duplicate=attempt.status in SETTLED_STATES
        )
    return attempt_settle(attempt_id=attempt.pk, finding=finding, source="re-check")


def _candidates(*, now: datetime, older_than: timedelta):
    news = GatewayNotification.objects.filter(
        attempt=OuterRef("pk"), received_at__gt=OuterRef("last_checked_at")
    )
    refund_in_flight = Refund.objects.filter(attempt=OuterRef("pk"), status=Refund.Status.REQUESTED)
    return (
        PaymentAttempt.objects.filter(created_at__lte=now - older_than)
        .annotate(has_news=Exists(news), refund_in_flight=Exists(refund_in_flight))
        .filter(
            Q(status__in=OPEN_STATUSES)
            | Q(status=Status.EXPIRED, created_at__gte=now - LATE_SUCCESS_WINDOW)
            # Whatever its state, news we have not asked about (e.g. a completion after a
            # failed try, answered from the status window) is asked about on the next run.
            | Q(has_news=True, created_at__gte=now - LATE_SUCCESS_WINDOW)
            # A refund is done when the gateway reports the payment reversed: ask until it does.
            | Q(status=Status.COMPLETED, refund_in_flight=True)
        )
        .order_by("created_at", "pk")
    )


def refunds_waiting_alert(*, now: datetime, report: ReconcileReport) -> None:
    """Tell staff, once per refund, about refunds the gateway has not confirmed in
    `REFUND_ALERT_AFTER_DAYS`."""
    days = settings.REFUND_ALERT_AFTER_DAYS
    waiting = Refund.objects.filter(
        status=Refund.Status.REQUESTED,
        requested_at__lt=now - timedelta(days=days),
        alerted_at__isnull=True,
    ).select_related("attempt")
    for refund in waiting.order_by("requested_at", "pk"):
        # Claimed with a conditional update: two reconcilers at once alert once.
        claimed = Refund.objects.filter(pk=refund.pk, alerted_at__isnull=True).update(
            alerted_at=now
        )
        if not claimed:
            continue
        label = f"{refund.attempt.merchant_reference} ({refund.attempt.gateway})"
        waited = (now - refund.requested_at).days
        detail = (
            f"Refund {refund.reference} was asked of the gateway {waited} days ago and it has "
            "not reported the payment reversed yet. Check the refund in the gateway's portal "
            "(it may wait for an approval there)."
        )
        logger.warning("refund %s waiting for %s days", refund.reference, waited)
        payment_emails.refund_staff_alert_send(
            refund_id=refund.pk, title="A refund is still waiting", detail=detail
        )
        report.needs_person.append(label)
        report.lines.append(f"{label}: refund {refund.reference} waiting for {waited} days")


def attempts_reconcile(*, older_than_minutes: int = 0, now: datetime | None = None):
    """Re-query unsettled attempts and apply the answers; returns a ReconcileReport."""
    now = now or timezone.now()
    report = ReconcileReport()
    for attempt in _candidates(now=now, older_than=timedelta(minutes=older_than_minutes)):
        label = f"{attempt.merchant_reference} ({attempt.gateway})"
        if _askable_gateway(attempt) is not None:
            if attempt.gateway in report.unreachable or not attempt_due(attempt, now=now):
                report.skipped += 1
                continue
            before = attempt.status
            try:
                settled = attempt_recheck(attempt=attempt, bypass_window=True)
            except GatewayUnavailable as exc:
                report.unreachable.add(attempt.gateway)
                report.lines.append(f"{label}: gateway unreachable ({type(exc).__name__})")
                continue
            except GatewayError as exc:
                report.errors.append(label)
                report.lines.append(f"{label}: could not be checked ({exc.message[:120]})")
                continue
            report.checked += 1
            attempt = settled.attempt
            if settled.changed:
                report.changed += 1
                report.lines.append(f"{label}: {before} -> {attempt.status}")
            if settled.changed and settled.needs_person:
                report.needs_person.append(label)
                report.lines.append(
                    f"{label}: needs a person"
                    + (" (refund)" if attempt.needs_refund else f" ({attempt.status_detail})")
                )
        past_expiry = attempt.is_open and attempt.expires_at and attempt.expires_at <= now
        if past_expiry and attempt_expire(
            attempt_id=attempt.pk, detail="No final answer before expiry"
        ):
            report.expired += 1
            report.lines.append(f"{label}: {attempt.status} -> expired")
    refunds_waiting_alert(now=now, report=report)
    logger.info("reconcile_payments: %s", report.summary())
    return report
