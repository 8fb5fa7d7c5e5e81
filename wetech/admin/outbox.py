"""Back office for background work: the outbox's emails (what failed or is being retried, and
why; "Send again now") and the workers seen lately."""

from django.contrib import admin, messages
from django.db.models import Q

from wetech.admin.base import LargeListAdmin, ReadOnlyAdmin
from wetech.admin.filters import recent_values_filter
from wetech.admin.search import NUMBER_OF_REFERENCE, SearchTerm, TypedSearchMixin
from wetech.emails import outgoing_emails_retry_now
from wetech.models import OutgoingEmail, WorkerHeartbeat


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(TypedSearchMixin, LargeListAdmin, ReadOnlyAdmin):
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
    list_filter = (
        "status",
        recent_values_filter("template", "template", newest_first="-created_at"),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("reason", "message_id", "template")
    search_help_text = (
        "What an email is about: an invoice number or payment reference (or its start), or"
        ' e.g. "lead 123"; or its Message-ID.'
    )
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

    def search_condition(self, term: SearchTerm):
        # The reason names a record ("invoice WT-...", "payment WT-...-9F3A2B1C", "lead 12").
        if term.kind == "reference":
            match = NUMBER_OF_REFERENCE.match(term.value)
            about = match[1] if match and "-RF" in term.value else term.value
            return Q(reason__startswith=f"invoice {about}") | Q(
                reason__startswith=f"payment {about}"
            )
        if term.kind == "email":
            return Q(message_id=term.typed) | Q(message_id=f"<{term.typed.strip('<>')}>")
        return Q(reason=term.typed)

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
