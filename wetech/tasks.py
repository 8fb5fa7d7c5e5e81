"""The background worker's tasks (Huey, through huey.contrib.djhuey): each calls one service.

`manage.py worker` runs them; the schedule (periodic tasks) runs in the same worker. Every task
is safe to run twice and none relies on Huey acknowledging it: the services keep their own state
in the database (an email is a row that records it was sent).
"""

from django.dispatch import receiver
from huey import crontab
from huey.contrib.djhuey import HUEY, close_db, db_periodic_task, db_task

from wetech.emails import email_deliver, email_queued, outgoing_emails_due
from wetech.ops.schedule import LOCAL_HUEY, job_schedule, scheduled_job_run
from wetech.ops.worker import worker_heartbeat_record

# The documents emails attach register their renderers on import (the worker draws them).
from wetech.sales import documents  # noqa: F401


@db_task()
def email_deliver_task(outgoing_email_id: int) -> None:
    """Deliver one outbox email; after a failed attempt, come back when the next one is due."""
    retry_at = email_deliver(outgoing_email_id=outgoing_email_id)
    if retry_at is not None:
        email_deliver_task.schedule((outgoing_email_id,), eta=retry_at)


@db_periodic_task(crontab(minute="*"))
def email_sweep_task() -> None:
    """Every minute: queue again the emails whose task was lost (see wetech.emails)."""
    for outgoing_email_id in outgoing_emails_due():
        email_deliver_task(outgoing_email_id)


@db_periodic_task(crontab(minute="*"))
def worker_heartbeat_task() -> None:
    """Every minute (and when the worker starts): this worker is alive, for /health/."""
    worker_heartbeat_record()


# --- The schedule: times in settings (SCHEDULE_*, in TIME_ZONE); each job runs once per period
# however many workers queue it (wetech.ops.schedule), and calls what its command calls.


@db_periodic_task(job_schedule("reconcile_payments", utc=HUEY.utc))
def reconcile_payments_task() -> None:
    scheduled_job_run(job="reconcile_payments")


@LOCAL_HUEY.periodic_task(job_schedule("backup_db", utc=LOCAL_HUEY.utc))
@close_db
def backup_db_task() -> None:
    """On this machine's own schedule, run only where WORKER_RUNS_BACKUPS is true (never on the
    shared queue, where any machine's worker could take it)."""
    scheduled_job_run(job="backup_db")


@db_periodic_task(job_schedule("check_data_integrity", utc=HUEY.utc))
def check_data_integrity_task() -> None:
    scheduled_job_run(job="check_data_integrity")


@db_periodic_task(job_schedule("prune_notifications", utc=HUEY.utc))
def prune_notifications_task() -> None:
    scheduled_job_run(job="prune_notifications")


@db_periodic_task(job_schedule("prune_outbox", utc=HUEY.utc))
def prune_outbox_task() -> None:
    scheduled_job_run(job="prune_outbox")


@receiver(email_queued, dispatch_uid="wetech.tasks.email_deliver_soon")
def _email_deliver_soon(sender, *, outgoing_email_id: int, **kwargs) -> None:
    email_deliver_task(outgoing_email_id)
