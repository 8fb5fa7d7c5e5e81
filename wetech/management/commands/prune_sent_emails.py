"""Delete the outbox's emails sent long ago (cron users; the worker's schedule does it weekly)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wetech.emails import outgoing_emails_prune

MAX_DAYS = 36_500


class Command(BaseCommand):
    help = (
        "Delete the emails the outbox sent more than DAYS days ago. Pending and failed ones are "
        "kept. Prints how many were deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="DAYS",
            help=f"Only emails sent more than DAYS days ago (default OUTBOX_KEEP_SENT_DAYS, "
            f"{settings.OUTBOX_KEEP_SENT_DAYS}).",
        )

    def handle(self, *args, older_than, **options):
        days = settings.OUTBOX_KEEP_SENT_DAYS if older_than is None else older_than
        if not 0 <= days <= MAX_DAYS:
            raise CommandError(f"--older-than must be 0 to {MAX_DAYS} days, not {days}")
        deleted = outgoing_emails_prune(older_than_days=days)
        self.stdout.write(
            f"prune_sent_emails: deleted {deleted} email(s) sent more than {days} day(s) ago"
        )
