"""The scheduled jobs the worker runs, once per period however many workers fire them.

Every worker's scheduler (Huey's, in `manage.py worker`) puts each due periodic task on the queue,
so with workers on several machines a job is queued several times a period. `scheduled_job_run`
makes it run once: it INSERTs a `ScheduledRun` row for (job, period) in its own transaction
before doing anything; the unique constraint lets exactly one worker in, and the others get an
IntegrityError and skip. The period is the newest minute the job's crontab matches at or before
the start (so a copy that waited in the queue still counts for the period it was queued for), and
the row records who ran it, when, and how it ended: ok with a one-line summary, or failed with a
one-line reason (and an ERROR in the log). A row left `running` is a worker stopped mid-job; the
next period runs as usual.

The crontabs are settings (`SCHEDULE_*`) read in TIME_ZONE (Africa/Dar_es_Salaam). Huey runs with
`utc=True`: the scheduler hands a periodic task's `validate_datetime` a naive UTC time, which
`LocalCrontab` converts before matching.

The jobs call the services their management commands call (the commands stay for cron users).

The backup runs only where `WORKER_RUNS_BACKUPS` is true (the machine whose BACKUP_DIR holds the
backups), and its recorded runs are what /health/'s backup-age check reads on every web node. The
shared queue hands a task to whichever worker is free, so a backup task put there could land on a
machine without BACKUP_DIR every night, the owner never getting one. The backup is therefore on
`LOCAL_HUEY`: a queue in this process's memory (Huey's MemoryHuey), whose scheduler and one worker
thread `manage.py worker` runs beside the shared consumer only where WORKER_RUNS_BACKUPS is true
(`local_schedule_start`). Nothing is lost with it that matters: a task of the minute, queued again
next period. A backup asked of a worker that does not own BACKUP_DIR is skipped before the period's
lock is taken.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from huey import MemoryHuey, crontab
from huey.consumer import Consumer

from wetech.emails import outgoing_emails_prune
from wetech.models import ScheduledRun
from wetech.ops.backups import BackupError, backup_create
from wetech.ops.integrity import findings_summary, integrity_audit
from wetech.ops.worker import worker_name
from wetech.payments.notification_retention import notifications_prune
from wetech.payments.reconcile import attempts_reconcile

logger = logging.getLogger("wetech.schedule")

Outcome = ScheduledRun.Outcome

# How far back a period is looked for: a crontab matching less often than this (monthly ones
# included) still finds its period.
LOOKBACK = timedelta(days=32)
# A run that starts this little before a scheduled minute belongs to it: the machine that queued
# the task may keep time a little ahead of the one that runs it.
CLOCK_SKEW = timedelta(seconds=30)
SUMMARY_MAX_CHARS = 500
# Attempts younger than this are left alone: the customer may still be paying.
RECONCILE_OLDER_THAN_MINUTES = 5

# This machine's own schedule (the backup): see the module's docstring. UTC like the shared queue.
LOCAL_HUEY = MemoryHuey("wetech-local", results=False, utc=True, immediate=False)


class JobFailed(Exception):
    """The job ran and found something wrong; the message is its one-line reason."""


# Failures a job reports in its own words (no traceback, no exception name): anything else is a
# bug or an outage, and its traceback goes to the log.
EXPECTED_FAILURES = (JobFailed, BackupError)


@dataclass(frozen=True)
class JobResult:
    summary: str
    artifact: str = ""


class LocalCrontab:
    """A crontab string ("minute hour day month weekday") matched in TIME_ZONE.

    Called as Huey's `validate_datetime` with the scheduler's time: naive UTC when `utc` is true
    (Huey's default, this site's setting), else naive local time.
    """

    def __init__(self, expression: str, *, utc: bool = True):
        fields = expression.split()
        if len(fields) != 5:
            raise ImproperlyConfigured(
                f"a schedule is 5 crontab fields (minute hour day month weekday), "
                f"not {expression!r}"
            )
        try:
            self._matches = crontab(*fields, strict=True)
        except ValueError as exc:
            raise ImproperlyConfigured(f"bad schedule {expression!r}: {exc}") from None
        self.expression = expression
        self.utc = utc

    def __call__(self, timestamp: datetime) -> bool:
        return self._matches(self._local(timestamp))

    def _local(self, timestamp: datetime) -> datetime:
        if timestamp.tzinfo is None:
            if not self.utc:
                return timestamp
            timestamp = timestamp.replace(tzinfo=UTC)
        return timezone.localtime(timestamp).replace(tzinfo=None)

    def period_start(self, now: datetime) -> datetime:
        """The newest minute at or before `now` (aware) this crontab matches, aware."""
        local = timezone.localtime(now + CLOCK_SKEW).replace(second=0, microsecond=0)
        earliest = local - LOOKBACK
        minute = local
        while minute > earliest:
            if self._matches(minute.replace(tzinfo=None)):
                return minute
            minute -= timedelta(minutes=1)
        # Matches nothing within the lookback (say "0 0 30 2 *"): the minute itself.
        return local

    def __repr__(self) -> str:
        return f"LocalCrontab({self.expression!r})"


@dataclass(frozen=True)
class Job:
    name: str
    setting: str  # the settings name of its crontab
    work: Callable[[], JobResult]
    owner_only: bool = False  # only where WORKER_RUNS_BACKUPS is true

    def crontab(self, *, utc: bool = True) -> LocalCrontab:
        return _crontab(getattr(settings, self.setting), utc=utc)


@functools.lru_cache(maxsize=64)
def _crontab(expression: str, *, utc: bool) -> LocalCrontab:
    return LocalCrontab(expression, utc=utc)


class JobSchedule:
    """A job's periodic-task `validate_datetime`: its crontab as settings say now (read at each
    call, so a settings override in a test applies), checked once when the task is declared."""

    def __init__(self, job: "Job", *, utc: bool):
        self.job = job
        self.utc = utc
        job.crontab(utc=utc)  # a malformed setting fails when the worker starts

    def __call__(self, timestamp: datetime) -> bool:
        return self.job.crontab(utc=self.utc)(timestamp)

    def __repr__(self) -> str:
        return f"JobSchedule({self.job.name!r})"


# --- The jobs: each calls the service its management command calls -------------------------------


def reconcile_job() -> JobResult:
    """`reconcile_payments --older-than 5` (the documented cron line): fails when the command
    would exit non-zero."""
    report = attempts_reconcile(older_than_minutes=RECONCILE_OLDER_THAN_MINUTES)
    if report.needs_person:
        raise JobFailed(
            f"{len(report.needs_person)} payment(s) need a person: "
            + ", ".join(report.needs_person)
        )
    if report.unreachable:
        raise JobFailed(f"gateway unreachable: {', '.join(sorted(report.unreachable))}")
    if report.errors:
        raise JobFailed(f"{len(report.errors)} attempt(s) could not be checked")
    return JobResult(summary=report.summary())


def backup_job() -> JobResult:
    """`backup_db --verify`: the default database into BACKUP_DIR, proved to restore before it
    is kept (a BackupError fails the run)."""
    result = backup_create(verify=True)
    return JobResult(
        summary=f"{result.size} bytes in {result.duration_seconds:.1f} s, "
        f"{len(result.deleted)} old backup(s) deleted",
        artifact=str(result.path),
    )


def integrity_job() -> JobResult:
    """`check_data_integrity`: any finding fails the run (the command exits 1)."""
    findings = integrity_audit()
    if findings:
        raise JobFailed(f"data integrity audit: {findings_summary(findings)}")
    return JobResult(summary="no findings")


def prune_notifications_job() -> JobResult:
    """`prune_notifications` with its default age."""
    return JobResult(summary=notifications_prune().summary())


def prune_outbox_job() -> JobResult:
    """`prune_sent_emails`: sent emails older than OUTBOX_KEEP_SENT_DAYS."""
    days = settings.OUTBOX_KEEP_SENT_DAYS
    deleted = outgoing_emails_prune(older_than_days=days)
    return JobResult(summary=f"deleted {deleted} email(s) sent more than {days} day(s) ago")


JOBS = {
    job.name: job
    for job in (
        Job("reconcile_payments", "SCHEDULE_RECONCILE", reconcile_job),
        Job("backup_db", "SCHEDULE_BACKUP", backup_job, owner_only=True),
        Job("check_data_integrity", "SCHEDULE_INTEGRITY", integrity_job),
        Job("prune_notifications", "SCHEDULE_PRUNE_NOTIFICATIONS", prune_notifications_job),
        Job("prune_outbox", "SCHEDULE_PRUNE_OUTBOX", prune_outbox_job),
    )
}


# --- Running them ---------------------------------------------------------------------------------


def job_schedule(name: str, *, utc: bool = True) -> JobSchedule:
    """Job `name`'s `validate_datetime`, for its periodic task (ImproperlyConfigured when its
    setting is malformed)."""
    return JobSchedule(JOBS[name], utc=utc)


def scheduled_job_run(
    *, job: str, now: datetime | None = None, host: str | None = None
) -> ScheduledRun | None:
    """Run `job` for the current period unless a worker already did (or is doing) so.

    Returns the run this call made, or None when it skipped: not this machine's job (the backup
    where WORKER_RUNS_BACKUPS is false; no lock is taken), or the period's row already exists.
    """
    spec = JOBS[job]
    if spec.owner_only and not settings.WORKER_RUNS_BACKUPS:
        logger.info("%s skipped: this worker does not run backups (WORKER_RUNS_BACKUPS)", job)
        return None
    now = now or timezone.now()
    period = spec.crontab().period_start(now)
    try:
        # Committed at once, so every other worker sees the period is taken.
        with transaction.atomic():
            run = ScheduledRun.objects.create(
                job=job, period=period, host=host or worker_name(), started_at=now
            )
    except IntegrityError:
        logger.info("%s for %s skipped: another worker has run it", job, f"{period:%H:%M}")
        return None
    logger.info("%s started (period %s)", job, period.isoformat(), extra={"job": job})
    try:
        result = spec.work()
    except Exception as exc:
        reason = _one_line(exc)
        run.outcome = Outcome.FAILED
        run.summary = reason
        logger.error(
            "%s failed: %s",
            job,
            reason,
            exc_info=not isinstance(exc, EXPECTED_FAILURES),
            extra={"job": job},
        )
    else:
        run.outcome = Outcome.OK
        run.summary = result.summary[:SUMMARY_MAX_CHARS]
        run.artifact = result.artifact
        logger.info("%s done: %s", job, run.summary, extra={"job": job})
    run.finished_at = timezone.now()
    run.save(update_fields=["outcome", "summary", "artifact", "finished_at"])
    return run


def backup_newest_recorded() -> ScheduledRun | None:
    """The newest successful backup a worker recorded (with its path), or None."""
    return (
        ScheduledRun.objects.filter(job="backup_db", outcome=Outcome.OK)
        .order_by("-finished_at")
        .first()
    )


def backup_last_failed_after(when: datetime | None) -> ScheduledRun | None:
    """The newest failed backup run finished after `when` (any, when None)."""
    runs = ScheduledRun.objects.filter(job="backup_db", outcome=Outcome.FAILED)
    if when is not None:
        runs = runs.filter(finished_at__gt=when)
    return runs.order_by("-finished_at").first()


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, EXPECTED_FAILURES) and type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return text[:SUMMARY_MAX_CHARS]


def local_schedule_start() -> Consumer:
    """Start LOCAL_HUEY's scheduler and one worker thread in this process; `stop(graceful=True)`
    the consumer returned when the shared one stops.

    Not `Consumer.start()`: that would set the process's signal handlers, which belong to the
    shared consumer (its SIGTERM stops both). The threads are daemons, so they never keep a
    stopping process alive.
    """
    consumer = LOCAL_HUEY.create_consumer(
        workers=1, worker_type="thread", periodic=True, shutdown_timeout=30.0
    )
    consumer.scheduler.start()
    for _, thread in consumer.worker_threads:
        thread.start()
    names = sorted(task.name for task in LOCAL_HUEY._registry.periodic_tasks)
    logger.info(
        "this worker runs the backups (WORKER_RUNS_BACKUPS): its own schedule started (%s)",
        ", ".join(names),
    )
    return consumer
