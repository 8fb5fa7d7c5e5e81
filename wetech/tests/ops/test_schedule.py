"""The schedule (wetech/ops/schedule.py, wetech/tasks.py): its crontabs in Dar es Salaam time,
each job once per period however many workers run it, the backup on its owner only, failures
recorded with their reason."""

import itertools
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from wetech.models import OutgoingEmail, PaymentAttempt, ScheduledRun
from wetech.ops.backups import backup_files
from wetech.ops.schedule import JOBS, LOCAL_HUEY, LocalCrontab, scheduled_job_run
from wetech.tests.conftest import run_django
from wetech.tests.integrity_helpers import open_attempt
from wetech.tests.payment_helpers import issued_invoice

Outcome = ScheduledRun.Outcome
EAT = timezone.get_fixed_timezone(180)  # Africa/Dar_es_Salaam: UTC+3 all year


def _utc(*args) -> datetime:
    """A naive UTC time, as Huey's scheduler (utc=True) hands it to validate_datetime."""
    return datetime(*args)


def _periodic(name):
    tasks = [*HUEY._registry.periodic_tasks, *LOCAL_HUEY._registry.periodic_tasks]
    return next(task for task in tasks if task.name == name)


# --- the crontabs ------------------------------------------------------------------------------


def test_reconcile_runs_every_ten_minutes():
    task = _periodic("reconcile_payments_task")
    due = [m for m in range(60) if task.validate_datetime(_utc(2026, 3, 2, 9, m))]
    assert due == [0, 10, 20, 30, 40, 50]


def test_the_nightly_jobs_run_at_their_dar_es_salaam_times():
    backup = _periodic("backup_db_task")
    integrity = _periodic("check_data_integrity_task")
    # 02:15 in Dar es Salaam is 23:15 UTC the day before; 02:15 UTC is 05:15 there.
    assert backup.validate_datetime(_utc(2026, 3, 1, 23, 15))
    assert not backup.validate_datetime(_utc(2026, 3, 2, 2, 15))
    assert integrity.validate_datetime(_utc(2026, 3, 2, 3, 30))  # 06:30 EAT
    assert not integrity.validate_datetime(_utc(2026, 3, 2, 6, 30))
    # Once a day: the minute that matches, and no other of the day.
    day = [_utc(2026, 3, 1, 21, 0) + timedelta(minutes=m) for m in range(24 * 60)]
    assert [t for t in day if backup.validate_datetime(t)] == [_utc(2026, 3, 1, 23, 15)]
    assert [t for t in day if integrity.validate_datetime(t)] == [_utc(2026, 3, 2, 3, 30)]


def test_the_prunes_run_weekly_early_on_sunday():
    notifications = _periodic("prune_notifications_task")
    outbox = _periodic("prune_outbox_task")
    # Sunday 1 March 2026, 03:45 and 04:00 in Dar es Salaam (00:45 and 01:00 UTC).
    assert datetime(2026, 3, 1).strftime("%A") == "Sunday"
    week = [_utc(2026, 2, 28, 21, 0) + timedelta(minutes=m) for m in range(7 * 24 * 60)]
    assert [t for t in week if notifications.validate_datetime(t)] == [_utc(2026, 3, 1, 0, 45)]
    assert [t for t in week if outbox.validate_datetime(t)] == [_utc(2026, 3, 1, 1, 0)]


def test_the_scheduler_queues_each_job_at_its_minute():
    # Huey's own question, once a minute: which periodic tasks are due now?
    due = {task.name for task in HUEY.read_periodic(_utc(2026, 3, 1, 23, 10))}
    assert due == {
        "email_sweep_task",
        "worker_heartbeat_task",
        "reconcile_payments_task",
    }
    due = {task.name for task in HUEY.read_periodic(_utc(2026, 3, 1, 23, 15))}
    assert due == {"email_sweep_task", "worker_heartbeat_task"}
    # The backup is never put on the shared queue, where any machine's worker could take it:
    # this machine's own schedule queues it.
    assert {task.name for task in LOCAL_HUEY.read_periodic(_utc(2026, 3, 1, 23, 15))} == {
        "backup_db_task"
    }
    assert not LOCAL_HUEY.read_periodic(_utc(2026, 3, 1, 23, 10))


def test_the_times_come_from_settings(settings):
    settings.SCHEDULE_BACKUP = "0 1 * * 1"  # Mondays, 01:00 EAT
    backup = _periodic("backup_db_task")
    assert backup.validate_datetime(_utc(2026, 3, 1, 22, 0))  # Monday 2 March, 01:00 EAT
    assert not backup.validate_datetime(_utc(2026, 3, 1, 23, 15))


@pytest.mark.parametrize("expression", ["*/10 * * *", "61 * * * *", "15 2 * * mon", ""])
def test_a_malformed_schedule_is_refused(expression):
    with pytest.raises(ImproperlyConfigured):
        LocalCrontab(expression)


def test_a_run_counts_for_the_minute_it_was_scheduled_for():
    reconcile = JOBS["reconcile_payments"].crontab()
    # Queued at 10:10, run late (a busy queue): still the 10:10 period.
    assert reconcile.period_start(datetime(2026, 3, 2, 10, 19, 25, tzinfo=EAT)) == datetime(
        2026, 3, 2, 10, 10, tzinfo=EAT
    )
    # Run on a machine whose clock is a few seconds behind the one that queued it.
    assert reconcile.period_start(datetime(2026, 3, 2, 10, 9, 50, tzinfo=EAT)) == datetime(
        2026, 3, 2, 10, 10, tzinfo=EAT
    )
    weekly = JOBS["prune_outbox"].crontab()
    assert weekly.period_start(datetime(2026, 3, 7, 12, 0, tzinfo=EAT)) == datetime(
        2026, 3, 1, 4, 0, tzinfo=EAT
    )


# --- once per period ------------------------------------------------------------------------------


@pytest.fixture
def backups_here(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.WORKER_RUNS_BACKUPS = True
    return settings.BACKUP_DIR


@pytest.mark.django_db(transaction=True)
def test_two_workers_run_each_job_once_per_period(backups_here):
    """Two workers (threads, each its own database connection) start every job at the same
    moment: each job runs once, by one of them; the other skips."""
    now = timezone.now()
    results = {}
    barrier = threading.Barrier(2)

    def worker(host):
        from django.db import connection

        try:
            barrier.wait(timeout=10)
            results[host] = {job: scheduled_job_run(job=job, now=now, host=host) for job in JOBS}
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"machine-{n}:1",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert set(results) == {"machine-1:1", "machine-2:1"}
    for job in JOBS:
        made = [runs[job] for runs in results.values() if runs[job] is not None]
        assert len(made) == 1, job
        [row] = ScheduledRun.objects.filter(job=job)
        assert (row.outcome, row.host) == (Outcome.OK, made[0].host), row.summary
        assert row.finished_at is not None
    backup = ScheduledRun.objects.get(job="backup_db")
    assert Path(backup.artifact).parent == backups_here and Path(backup.artifact).exists()
    assert [b.path for b in backup_files(directory=backups_here)] == [Path(backup.artifact)]


@pytest.mark.django_db(transaction=True)
def test_the_next_period_runs_again(backups_here):
    first = datetime(2026, 3, 2, 10, 10, 5, tzinfo=EAT)
    assert scheduled_job_run(job="reconcile_payments", now=first) is not None
    assert scheduled_job_run(job="reconcile_payments", now=first + timedelta(minutes=5)) is None
    assert scheduled_job_run(job="reconcile_payments", now=first + timedelta(minutes=10))
    assert sorted(
        ScheduledRun.objects.filter(job="reconcile_payments").values_list("period", flat=True)
    ) == [datetime(2026, 3, 2, 10, 10, tzinfo=EAT), datetime(2026, 3, 2, 10, 20, tzinfo=EAT)]


# --- the backup's owner ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_does_not_own_the_backups_skips_without_the_lock(backups_here, settings):
    settings.WORKER_RUNS_BACKUPS = False
    now = timezone.now()
    assert scheduled_job_run(job="backup_db", now=now, host="web-2:1") is None
    assert not ScheduledRun.objects.exists()  # the period is still free for the owner
    assert not backups_here.exists() or not any(backups_here.iterdir())

    settings.WORKER_RUNS_BACKUPS = True
    run = scheduled_job_run(job="backup_db", now=now, host="backup-1:1")
    assert (run.outcome, run.host) == (Outcome.OK, "backup-1:1")
    assert Path(run.artifact).exists()


@pytest.mark.db_independent
@pytest.mark.parametrize(
    ("broker", "flag", "expected"),
    [
        ("sqlite:///var/test-owner.sqlite3", None, "True"),  # one machine: it owns BACKUP_DIR
        ("redis://127.0.0.1:6379/6", None, "False"),  # shared queue: nobody unless told
        ("redis://127.0.0.1:6379/6", "true", "True"),
        ("sqlite:///var/test-owner.sqlite3", "false", "False"),
    ],
)
def test_who_runs_backups_by_default(broker, flag, expected):
    result = run_django(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.WORKER_RUNS_BACKUPS)",
        env={"DEBUG": "true", "TASK_BROKER_URL": broker, "WORKER_RUNS_BACKUPS": flag},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failed_job_is_recorded_with_its_reason_and_logged(settings, tmp_path, caplog):
    settings.WORKER_RUNS_BACKUPS = True
    settings.BACKUP_DIR = tmp_path / "a-file"
    settings.BACKUP_DIR.write_text("not a folder")

    with caplog.at_level(logging.INFO, logger="wetech.schedule"):
        run = scheduled_job_run(job="backup_db")

    run.refresh_from_db()
    assert run.outcome == Outcome.FAILED
    assert run.finished_at is not None
    assert run.summary.startswith(f"cannot use backup folder {settings.BACKUP_DIR}: ")
    assert "\n" not in run.summary
    [error] = [r for r in caplog.records if r.name == "wetech.schedule" and r.levelname == "ERROR"]
    assert error.getMessage() == f"backup_db failed: {run.summary}"
    assert not error.exc_info  # a reason of its own, no traceback
    # Failed is done for the period: another worker does not try it again.
    assert scheduled_job_run(job="backup_db") is None


@pytest.mark.django_db(transaction=True)
def test_a_finding_fails_the_integrity_job(caplog):
    attempt = open_attempt(issued_invoice())
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        expires_at=timezone.now() - timedelta(hours=3)
    )
    with caplog.at_level(logging.ERROR, logger="wetech.schedule"):
        run = scheduled_job_run(job="check_data_integrity")
    assert run.outcome == Outcome.FAILED
    assert run.summary.startswith("data integrity audit: 1 finding")
    assert "attempt_stuck" in run.summary
    assert any("check_data_integrity failed" in r.getMessage() for r in caplog.records)


# --- the outbox's retention -----------------------------------------------------------------------


_numbers = itertools.count(1)


def _email(status, *, sent_days_ago=None):
    n = next(_numbers)
    now = timezone.now()
    return OutgoingEmail.objects.create(
        template="lead_received",
        to=["a@example.com"],
        reason=f"lead {n}",
        message_id=f"<{n}.prune@test>",
        status=status,
        sent_at=now - timedelta(days=sent_days_ago) if sent_days_ago is not None else None,
        created_at=now - timedelta(days=60),
    )


@pytest.mark.django_db
def test_the_outbox_prune_deletes_only_emails_sent_long_ago(settings):
    settings.OUTBOX_KEEP_SENT_DAYS = 30
    old = _email(OutgoingEmail.Status.SENT, sent_days_ago=31)
    recent = _email(OutgoingEmail.Status.SENT, sent_days_ago=29)
    failed = _email(OutgoingEmail.Status.FAILED)
    pending = _email(OutgoingEmail.Status.PENDING)

    run = scheduled_job_run(job="prune_outbox", now=datetime(2026, 3, 1, 4, 0, tzinfo=EAT))

    assert run.summary == "deleted 1 email(s) sent more than 30 day(s) ago"
    assert set(OutgoingEmail.objects.values_list("pk", flat=True)) == {
        recent.pk,
        failed.pk,
        pending.pk,
    }
    assert not OutgoingEmail.objects.filter(pk=old.pk).exists()
