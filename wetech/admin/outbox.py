"""Back office for background work: the outbox's emails (what failed or is being retried, and
why; "Send again now") and the workers seen lately."""

from django.contrib import admin, messages

from wetech.admin.base import ReadOnlyAdmin
from wetech.emails import outgoing_emails_retry_now
from wetech.models import OutgoingEmail, WorkerHeartbeat


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyAdmin):
    """Every email of the site: staff see what failed or is being retried, and why, and can send
    an email again now (the worker sends it; a failed one gets a new round of attempts)."""

    list_display = (
        "created_at",
        "template",
        "reason",
        "recipients",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error_summary",
    )
    list_filter = ("status", "template")
    search_fields = ("reason", "message_id", "template")
    date_hierarchy = "created_at"
    actions = ("send_again_now",)
    fields = (
        "template",
        "to",
        "reason",
        "language",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "created_at",
        "message_id",
        "last_error",
        "context",
        "attachments",
    )

    @admin.display(description="To")
    def recipients(self, email):
        return ", ".join(email.to)

    @admin.display(description="Last error")
    def error_summary(self, email):
        return email.last_error[:80]

    @admin.action(description="Send again now")
    def send_again_now(self, request, queryset):
        chosen = list(queryset.values_list("pk", flat=True))
        queued = outgoing_emails_retry_now(ids=chosen)
        skipped = len(chosen) - queued
        self.message_user(
            request,
            f"{queued} email(s) handed to the worker to send now"
            + (f"; {skipped} left alone (sent already, or being sent)" if skipped else ""),
            messages.SUCCESS if queued else messages.WARNING,
        )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """The background workers seen lately (host:pid), as /health/ reads them."""

    list_display = ("name", "started_at", "seen_at")
    ordering = ("-seen_at",)
