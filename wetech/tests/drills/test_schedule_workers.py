"""Drill: two real workers (`manage.py worker` processes, as on two machines) on one queue and one
database run each scheduled job once per period, and the backup only on the machine that owns
BACKUP_DIR.

On SQLite the queue is this test process's embedded file; on PostgreSQL it is Redis (REDIS_URL).
"""

import signal
from pathlib import Path

import pytest
from huey.contrib.djhuey import HUEY

from wetech import tasks
from wetech.models import ScheduledRun
from wetech.ops.backups import backup_files
from wetech.tests.worker_helpers import Worker, wait_until

pytestmark = pytest.mark.slow_drill

SKIPPED = "skipped: another worker has run it"
# Yearly, for the first drill: the workers compute a job's period when they run it, and a
# schedule that matches once a year keeps every copy of the drill in the same period.
YEARLY = "0 0 1 1 *"
SHARED_JOBS = {
    "reconcile_payments": tasks.reconcile_payments_task,
    "check_data_integrity": tasks.check_data_integrity_task,
    "prune_notifications": tasks.prune_notifications_task,
    "prune_outbox": tasks.prune_outbox_task,
}


@pytest.mark.django_db(transaction=True)
def test_two_workers_run_each_shared_job_once_per_period(tmp_path):
    schedule = {
        "SCHEDULE_RECONCILE": YEARLY,
        "SCHEDULE_INTEGRITY": YEARLY,
        "SCHEDULE_PRUNE_NOTIFICATIONS": YEARLY,
        "SCHEDULE_PRUNE_OUTBOX": YEARLY,
    }
    argv = ["worker", "--workers", "2", "--no-periodic"]
    with (
        Worker(tmp_path / "one.log", argv=argv, **schedule) as one,
        Worker(tmp_path / "two.log", argv=argv, **schedule) as two,
    ):
        # Each machine's scheduler queues every due job: two copies of each on the shared queue.
        for task in SHARED_JOBS.values():
            task()
            task()

        def all_done():
            finished = ScheduledRun.objects.filter(finished_at__isnull=False).count()
            skipped = one.output.count(SKIPPED) + two.output.count(SKIPPED)
            return finished == len(SHARED_JOBS) and skipped == len(SHARED_JOBS)

        wait_until(all_done, timeout=60, message=f"{one.output}\n---\n{two.output}")
        assert HUEY.pending_count() == 0
        hosts = {f":{one.process.pid}", f":{two.process.pid}"}
        assert one.stop() == 0 and two.stop() == 0

    runs = ScheduledRun.objects.all()
    assert sorted(run.job for run in runs) == sorted(SHARED_JOBS)
    for run in runs:
        assert run.outcome == ScheduledRun.Outcome.OK, run.summary
        assert any(run.host.endswith(pid) for pid in hosts)


@pytest.mark.django_db(transaction=True)
def test_only_the_worker_that_owns_backup_dir_runs_the_backup(tmp_path):
    backups = tmp_path / "backups"
    every_minute = {"SCHEDULE_BACKUP": "* * * * *", "BACKUP_DIR": backups}
    with (
        Worker(
            tmp_path / "web.log", argv=["worker"], WORKER_RUNS_BACKUPS="false", **every_minute
        ) as other,
        Worker(
            tmp_path / "owner.log", argv=["worker"], WORKER_RUNS_BACKUPS="true", **every_minute
        ) as owner,
    ):
        wait_until(
            lambda: ScheduledRun.objects.filter(job="backup_db", finished_at__isnull=False),
            timeout=60,
            message=f"{owner.output}\n---\n{other.output}",
        )
        assert owner.stop(signal.SIGTERM) == 0
        assert other.stop(signal.SIGTERM) == 0

    runs = list(ScheduledRun.objects.filter(job="backup_db"))
    assert runs and all(run.host.endswith(f":{owner.process.pid}") for run in runs)
    assert runs[0].outcome == ScheduledRun.Outcome.OK, runs[0].summary
    assert Path(runs[0].artifact) in [b.path for b in backup_files(directory=backups)]
    assert "this worker runs the backups" in owner.output
    assert "this worker runs the backups" not in other.output
    assert "backup_db" not in other.output
