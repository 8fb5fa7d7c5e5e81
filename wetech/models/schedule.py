"""The schedule's runs: one row per scheduled job and period, the lock that makes each job run
once per period however many workers (on however many machines) the schedule fires on."""

from django.db import models
from django.utils import timezone


class ScheduledRun(models.Model):
    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"  # started; a row left so was a worker stopped mid-job
        OK = "ok", "Done"
        FAILED = "failed", "Failed"

    # The job's name, as in settings.SCHEDULE: "reconcile_payments", "backup_db", ...
    job = models.CharField(max_length=50)
    # The scheduled minute this run belongs to (the newest one the job's crontab matches at or
    # before the start): the first worker to insert (job, period) runs it, the others skip.
    period = models.DateTimeField()
    host = models.CharField(max_length=200, help_text="The worker that ran it (host:pid).")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    # One line: what the job did ("3 attempt(s) checked"), or why it failed.
    summary = models.CharField(max_length=500, blank=True, default="")
    # What it produced, when it produces something: the backup's path.
    artifact = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["job", "period"], name="scheduled_run_once_per_period")
        ]
        indexes = [
            # /health/'s newest backup, the admin's per-job list.
            models.Index(fields=["job", "outcome", "-finished_at"], name="scheduled_run_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.job} for {self.period:%Y-%m-%d %H:%M} ({self.outcome})"
