"""The outbox: every email of the site is a row here, written in the transaction of the change
that causes it, and sent by the background worker (wetech/emails.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutgoingEmail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its (next) attempt
        SENDING = "sending", "Sending"  # claimed by a worker until claimed_at + the lease
        SENT = "sent", "Sent"  # the mail server accepted it
        FAILED = "failed", "Failed"  # given up: EMAIL_MAX_ATTEMPTS spent, or it cannot be built

    # emails/<template>_subject.txt and emails/<template>.txt
    template = models.CharField(max_length=100)
    to = models.JSONField(help_text="The recipients' addresses, a list.")
    # Plain JSON: model instances are stored as {"__model__": "wetech.invoice", "pk": 42} and read
    # again when the worker renders the email (see wetech.emails.email_send).
    context = models.JSONField(default=dict, blank=True)
    # What the email is about, naming a record, never a person: "lead 12", "payment WT-...".
    reason = models.CharField(max_length=200)
    # The language to render in; blank = the site's LANGUAGE_CODE.
    language = models.CharField(max_length=10, blank=True, default="")
    # Documents the worker renders and attaches: [{"kind": "invoice_pdf", "invoice_id": 42}].
    attachments = models.JSONField(default=list, blank=True)
    # The Message-ID header, fixed at insert, so every attempt sends the same message.
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When a task to deliver it was last put on the queue (or is scheduled to be): the sweep
    # queues another only once that one is a lease overdue, so a backlog does not multiply tasks.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sweep's two questions, each over the few rows not yet sent.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outgoing_email_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="outgoing_email_leased",
            ),
            # /health/'s oldest unsent and stuck emails, and the back office's status filter.
            models.Index(fields=["status", "created_at"], name="outgoing_email_status"),
            # The back office lists emails newest first and finds them by what they are about
            # ("invoice WT-2025-01234", or its start: the pattern operators serve LIKE 'x%').
            models.Index(fields=["created_at"], name="outgoing_email_created_at"),
            models.Index(
                fields=["reason"], name="outgoing_email_reason", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} for {self.reason} ({self.status})"


class WorkerHeartbeat(models.Model):
    """One row per worker process, written by its `worker_heartbeat` task every minute; in the
    database, so every web node's /health/ sees every worker."""

    name = models.CharField(max_length=200, unique=True)  # host:pid
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.name} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"
