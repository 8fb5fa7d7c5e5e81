"""Compare what the configured gateways answer with the committed shapes (the simulators').

Thin: `wetech.payments.gateways.shape_check` makes the calls and compares; this prints one line
per call (or per difference) and exits 0 only when every shape agrees.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from wetech.payments.gateways.shape_check import (
    AZAMPAY_PROVIDERS,
    AZAMPAY_SMALLEST_AMOUNT,
    GATEWAYS,
    PESAPAL_SMALLEST_AMOUNT,
    SHAPES_DIR,
    CheckOptions,
    gateway_shapes_check,
    gateways_configured,
)


class Command(BaseCommand):
    help = (
        "With the configured (sandbox) credentials, make each gateway's harmless calls (token; "
        "Pesapal's IPN list; the status of a known or made-up order) and compare each answer's "
        "shape (fields, JSON types, status words) with the committed shapes, which are the "
        "simulators'. Prints the differences; exits 0 when every shape agrees."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--gateway", choices=GATEWAYS, help="check only this one (default: every configured)"
        )
        parser.add_argument(
            "--create",
            action="store_true",
            help=(
                f"also place one smallest order (Pesapal: TZS {PESAPAL_SMALLEST_AMOUNT}, "
                f"registering this site's IPN URL when none is; AzamPay: a TZS "
                f"{AZAMPAY_SMALLEST_AMOUNT} push to --phone) and ask its status"
            ),
        )
        parser.add_argument(
            "--order-tracking-id",
            default="",
            help="a Pesapal order to ask the status of (default: a made-up one, 'not found')",
        )
        parser.add_argument(
            "--transaction-id",
            default="",
            help="an AzamPay transaction to ask the status of (default: a made-up one)",
        )
        parser.add_argument(
            "--provider",
            choices=AZAMPAY_PROVIDERS,
            default="Azampesa",
            help="the AzamPay provider of the push and the status query (default: Azampesa)",
        )
        parser.add_argument(
            "--phone", default="", help="AzamPay --create: the payer number, 255XXXXXXXXX"
        )
        parser.add_argument(
            "--shapes",
            type=Path,
            default=SHAPES_DIR,
            help="the directory of <gateway>.json shape files (default: the committed ones)",
        )

    def handle(self, *args, **options):
        gateways = [options["gateway"]] if options["gateway"] else gateways_configured()
        if not gateways:
            raise CommandError("no gateway is configured: set the Pesapal or AzamPay settings")
        check = CheckOptions(
            create=options["create"],
            order_tracking_id=options["order_tracking_id"],
            transaction_id=options["transaction_id"],
            provider=options["provider"],
            phone=options["phone"],
        )
        failing = []
        for gateway in gateways:
            try:
                report = gateway_shapes_check(
                    gateway=gateway, options=check, shapes_dir=options["shapes"]
                )
            except (ValueError, OSError) as exc:
                raise CommandError(f"{gateway}: {exc}") from exc
            for line in report.lines():
                self.stdout.write(line)
            if not report.agrees:
                failing.append(report.summary())
        if failing:
            raise CommandError(
                "the gateways do not answer in the committed shapes: " + ", ".join(failing)
            )
        self.stdout.write(f"every shape agrees ({', '.join(gateways)})")
