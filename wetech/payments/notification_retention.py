"""How long the gateways' raw messages are kept: `notifications_prune` (`prune_notifications`).

Anyone can send IPNs and browser returns, so the inbox fills with junk: unknown orders, unreadable
messages, repeats. A message is deleted only when it is old (DAYS), handled (applied, duplicate,
ignored or rejected) and not tied to a payment: it names no attempt and nothing else refers to
it. Messages still `received` (unprocessed) or in `error` (to be retried or looked at) and every
message about a payment attempt (the record for a dispute) are kept whatever their age.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from wetech.models import GatewayNotification

logger = logging.getLogger("wetech.payments")

Result = GatewayNotification.Result

DEFAULT_DAYS = 90
# Handled: the pipeline is done with them. Never RECEIVED or ERROR.
PRUNABLE_RESULTS = (Result.APPLIED, Result.DUPLICATE, Result.IGNORED, Result.REJECTED)
# Deleted in batches, so a big first run never holds a long write lock (SQLite).
BATCH_SIZE = 1000


@dataclass
class PruneReport:
    older_than_days: int
    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        per_state = ", ".join(
            f"{result} {self.deleted.get(result, 0)}" for result in PRUNABLE_RESULTS
        )
        return (
            f"deleted {self.total} handled gateway notification(s) received more than "
            f"{self.older_than_days} day(s) ago ({per_state})"
        )


def _prunable(*, cutoff: datetime):
    queryset = GatewayNotification.objects.filter(
        received_at__lt=cutoff, result__in=PRUNABLE_RESULTS, attempt__isnull=True
    )
    # Nothing refers to a notification today; should something ever do, that row stays.
    for relation in GatewayNotification._meta.related_objects:
        queryset = queryset.filter(**{f"{relation.name}__isnull": True})
    return queryset


def notifications_prune(
    *, older_than_days: int = DEFAULT_DAYS, now: datetime | None = None
) -> PruneReport:
    """Delete old, handled notifications no payment attempt refers to; returns the counts."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be 0 or more")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    report = PruneReport(older_than_days=older_than_days, cutoff=cutoff)
    for result in PRUNABLE_RESULTS:
        deleted = 0
        while True:
            batch = list(
                _prunable(cutoff=cutoff)
                .filter(result=result)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH_SIZE]
            )
            if not batch:
                break
            # The conditions again: a row that changed meanwhile is not deleted.
            count, _ = _prunable(cutoff=cutoff).filter(result=result, pk__in=batch).delete()
            deleted += count
            if count == 0:
                break
        report.deleted[result] = deleted
    logger.info("prune_notifications: %s", report.summary())
    return report
