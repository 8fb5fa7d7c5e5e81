"""Back office for the schedule: every scheduled job's runs (which worker ran it, when, how it
ended and why it failed), read-only: the worker writes them."""

from django.contrib import admin

from wetech.admin.base import ReadOnlyAdmin
from wetech.models import ScheduledRun


@admin.register(ScheduledRun)
class ScheduledRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "period", "outcome", "started_at", "finished_at", "host", "summary")
    list_filter = ("outcome", "job")
    search_fields = ("job", "host", "summary")
    date_hierarchy = "period"
    ordering = ("-period", "-pk")
    fields = (
        "job",
        "period",
        "outcome",
        "summary",
        "artifact",
        "host",
        "started_at",
        "finished_at",
    )
