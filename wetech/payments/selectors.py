"""Reads about payments for the back office and the commands (services write elsewhere)."""

from django.db.models import QuerySet

from wetech.models import Invoice, PaymentAttempt
from wetech.payments.books import PaymentMoney, payment_money
from wetech.payments.refunds import RefundNotAllowed

Status = PaymentAttempt.Status


def _credited(invoice: Invoice) -> QuerySet[PaymentAttempt]:
    return invoice.payment_attempts.filter(
        status__in=[Status.COMPLETED, Status.REVERSED], ledger_entries__kind="payment"
    ).distinct()


def payment_to_refund(*, invoice_number: str, merchant_reference: str = "") -> PaymentAttempt:
    """The payment of the invoice a refund is about: `merchant_reference` when given, else the
    one flagged "to refund", else the invoice's only completed one. Raises RefundNotAllowed
    (one line) when there is none, or when the choice is ambiguous."""
    invoice = Invoice.objects.filter(number=invoice_number).first()
    if invoice is None:
        raise RefundNotAllowed(f"there is no invoice {invoice_number}")
    if merchant_reference:
        attempt = invoice.payment_attempts.filter(merchant_reference=merchant_reference).first()
        if attempt is None:
            raise RefundNotAllowed(f"invoice {invoice.number} has no payment {merchant_reference}")
        return attempt
    credited = list(_credited(invoice).order_by("completed_at", "pk"))
    completed = [a for a in credited if a.status == Status.COMPLETED]
    flagged = [a for a in completed if a.needs_refund]
    for choice in (flagged, completed, credited):
        if len(choice) == 1:
            return choice[0]
        if len(choice) > 1:
            references = ", ".join(a.merchant_reference for a in choice)
            which = "payments flagged to refund" if choice is flagged else "completed payments"
            raise RefundNotAllowed(
                f"invoice {invoice.number} has {len(choice)} {which} ({references}): "
                "choose one with --payment"
            )
    raise RefundNotAllowed(f"nothing was paid on invoice {invoice.number}")


def refund_preview(attempt: PaymentAttempt) -> PaymentMoney:
    """What the payment holds, for a person to confirm a refund of it."""
    return payment_money(attempt)
