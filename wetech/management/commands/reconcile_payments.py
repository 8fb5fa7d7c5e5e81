"""Re-query unsettled payment attempts and apply what the gateways say (cron, every few minutes)."""

from django.core.management.base import BaseCommand, CommandError

from wetech.payments.reconcile import attempts_reconcile


class Command(BaseCommand):
    help = (
        "Ask Pesapal (and AzamPay, when AZAMPAY_STATUS_QUERY is on) about every unsettled "
        "payment attempt, apply the answers, expire stale attempts and report what needs a "
        "person. Exits non-zero when something does, or when a gateway could not be reached."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=0,
            metavar="MINUTES",
            help="Only attempts created at least this many minutes ago (default 0).",
        )

    def handle(self, *args, **options):
        if options["older_than"] < 0:
            raise CommandError("--older-than must be 0 or more minutes")
        report = attempts_reconcile(older_than_minutes=options["older_than"])
        for line in report.lines:
            self.stdout.write(line)
        self.stdout.write(f"reconcile_payments: {report.summary()}")
        if report.needs_person:
            raise CommandError(
                f"{len(report.needs_person)} payment(s) need a person: "
                + ", ".join(report.needs_person)
            )
        if report.unreachable:
            raise CommandError(
                f"gateway unreachable: {', '.join(sorted(report.unreachable))}; try again later"
            )
        if report.errors:
            raise CommandError(f"{len(report.errors)} attempt(s) could not be checked")
