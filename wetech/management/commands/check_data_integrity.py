"""Read-only audit of invoices, payments and the ledger (cron, daily)."""

import json
from dataclasses import asdict
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from wetech.ops.integrity import findings_summary, integrity_audit


class Command(BaseCommand):
    help = (
        "Audit the data without changing it: invoice-number gaps and duplicates per year, paid "
        "states that disagree with the ledger, non-positive amounts and wrong totals, ledger "
        "entries without a matching gateway status, payment attempts stuck past their expiry "
        "and orphaned rows. Prints one line per finding and exits 1 when there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON object (findings, count, summary) instead of text lines.",
        )
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=60,
            metavar="MINUTES",
            help="How long past its expiry an open attempt, or how long after arrival an "
            "unprocessed notification, is tolerated (default 60).",
        )

    def handle(self, *args, **options):
        if options["grace_minutes"] < 0:
            raise CommandError("--grace-minutes must be 0 or more")
        now = timezone.now()
        findings = integrity_audit(now=now, grace=timedelta(minutes=options["grace_minutes"]))
        summary = findings_summary(findings)
        if options["json"]:
            report = {
                "checked_at": now.isoformat(),
                "count": len(findings),
                "summary": summary,
                "findings": [asdict(finding) for finding in findings],
            }
            self.stdout.write(json.dumps(report))
        else:
            for finding in findings:
                self.stdout.write(finding.line())
            self.stdout.write(f"check_data_integrity: {summary}")
        if findings:
            raise CommandError(f"data integrity audit: {summary}")
