"""`manage.py refund_payment INVOICE_NUMBER --reason TEXT`: refund a completed payment of an
invoice, as staff do from the back office (`refunds.refund_request`)."""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from wetech.money import MoneyFormatError, format_money, to_decimal
from wetech.payments.gateways.registry import gateway_named
from wetech.payments.refunds import RefundNotAllowed, refund_request
from wetech.payments.selectors import payment_to_refund, refund_preview


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        # No user name in the environment or the password database (some containers).
        return ""


class Command(BaseCommand):
    help = (
        "Refund a completed payment of an invoice: through the gateway's refund API (done when "
        "the gateway reports the payment reversed), or recorded as made by hand with --reference "
        "for a gateway without one."
    )

    def add_arguments(self, parser):
        parser.add_argument("invoice_number", help="e.g. WT-2026-00042")
        parser.add_argument(
            "--payment",
            default="",
            metavar="MERCHANT_REF",
            help="The payment to refund (default: the one flagged to refund, else the only one).",
        )
        parser.add_argument(
            "--amount", default=None, help="How much (default: all that is left of the payment)."
        )
        parser.add_argument("--reason", required=True, help="Why: kept in the audit trail.")
        parser.add_argument(
            "--reference",
            default="",
            help="The transfer's reference of a refund made by hand (gateways without an API).",
        )
        parser.add_argument(
            "--by",
            default=None,
            metavar="NAME",
            help="Who asks (default: the operating-system user); sent to the gateway.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args, invoice_number, payment, amount, reason, reference, by, **options):
        actor = (by if by is not None else _os_user()).strip()
        if not actor:
            raise CommandError("refund_payment refused: say who asks for it with --by NAME")
        if amount is not None:
            try:
                amount = to_decimal(amount)
            except (MoneyFormatError, TypeError) as exc:
                raise CommandError(
                    f"refund_payment refused: {amount!r} is not an amount of money"
                ) from exc
        try:
            attempt = payment_to_refund(invoice_number=invoice_number, merchant_reference=payment)
            if options["interactive"] and not self._confirmed(attempt, amount, reference, actor):
                raise CommandError("refund_payment cancelled: nothing was refunded")
            refund = refund_request(
                attempt=attempt, amount=amount, reason=reason, actor=actor, reference=reference
            )
        except RefundNotAllowed as exc:
            raise CommandError(f"refund_payment refused: {exc}") from exc
        money = format_money(refund.amount, refund.currency)
        if refund.status == "completed":
            note = refund.credit_note.number
            self.stdout.write(
                f"refund {refund.reference} of {money} ({attempt.merchant_reference}): completed, "
                f"credit note {note}"
            )
        else:
            label = gateway_named(attempt.gateway).label
            said = f" ({label}: {refund.gateway_message})" if refund.gateway_message else ""
            self.stdout.write(
                f"refund {refund.reference} of {money} ({attempt.merchant_reference}): "
                f"{refund.status}{said}; it completes when {label} reports the payment reversed"
            )

    def _confirmed(self, attempt, amount, reference, actor) -> bool:
        if not sys.stdin.isatty():
            raise CommandError(
                "refund_payment refused: no terminal to confirm on; pass --noinput to refund "
                "without asking"
            )
        gateway = gateway_named(attempt.gateway)
        money = refund_preview(attempt)
        how = (
            f"through {gateway.label}'s refund API"
            if gateway.supports_refund_api
            else f"recorded as sent back by hand (reference {reference or '-'})"
        )
        shown = format_money(amount, money.currency) if amount is not None else "all that is left"
        self.stdout.write(
            f"Refund {shown} of {attempt.merchant_reference} ({gateway.label}"
            f"{', ' + attempt.payment_method if attempt.payment_method else ''}; "
            f"{format_money(money.left, money.currency)} left of "
            f"{format_money(money.paid, money.currency)}) on invoice {attempt.invoice.number}, "
            f"{how}, asked by {actor}."
        )
        try:
            answer = input("Type 'yes' to continue: ")
        except EOFError:
            return False
        return answer.strip().lower() == "yes"
