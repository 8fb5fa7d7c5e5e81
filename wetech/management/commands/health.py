"""`manage.py health`: the /health/ report as JSON, with details; exits non-zero on fail."""

import json

from django.core.management.base import BaseCommand, CommandError

from wetech.ops.health import FAIL, health_report_build


class Command(BaseCommand):
    help = "Print the health report (what /health/ shows, with details); exit 1 when it fails."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scope",
            choices=["full", "ready"],
            default="full",
            help="full: everything /health/ checks (default); ready: what /health/ready/ checks.",
        )

    def handle(self, *args, scope, **options):
        report = health_report_build(scope=scope)
        # Whoever runs manage.py on the server is an operator: show the details.
        self.stdout.write(json.dumps(report.as_json(include_output=True), indent=2))
        if report.status == FAIL:
            raise CommandError(f"health: fail ({', '.join(report.failing)})")
