"""Delete old gateway notifications that were handled and belong to no payment (cron, daily)."""

from django.core.management.base import BaseCommand, CommandError

from wetech.payments.notification_retention import DEFAULT_DAYS, notifications_prune

MAX_DAYS = 36_500


class Command(BaseCommand):
    help = (
        "Delete gateway notifications older than DAYS that were handled (applied, duplicate, "
        "ignored or rejected) and that no payment attempt refers to. Unprocessed (received) "
        "and failed (error) ones, and every one about a payment attempt, are kept. Prints the "
        "count per state."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            default=str(DEFAULT_DAYS),
            metavar="DAYS",
            help=f"Only notifications received more than DAYS days ago (default {DEFAULT_DAYS}).",
        )

    def handle(self, *args, **options):
        value = str(options["older_than"]).strip()
        # Checked here rather than by argparse, so a bad value is one CommandError line.
        if not value.isdigit() or int(value) > MAX_DAYS:
            raise CommandError(
                f"--older-than must be a whole number of days from 0 to {MAX_DAYS}, not {value!r}"
            )
        report = notifications_prune(older_than_days=int(value))
        self.stdout.write(f"prune_notifications: {report.summary()}")
