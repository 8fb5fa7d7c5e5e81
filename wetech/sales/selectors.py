"""Reads for the public pages: the catalogue on offer, and about invoices what the invoice page,
the status JSON and settlement need to know.

Selectors only read (services in `invoicing.py` and `leads.py` write). They read the payment
attempts and the ledger through the models, never through `wetech.payments`: sales sits below
payments, which builds on it.
"""

from decimal import Decimal

from django.db.models import QuerySet

from wetech.models import Invoice, PaymentAttempt, Service
from wetech.models.payments import OPEN_STATUSES
from wetech.money import quantize, to_wire

# How many attempts the page and the status JSON show; older ones are in the back office.
PAGE_ATTEMPTS = 10
STATUS_ATTEMPTS = 20


def service_list_offered() -> QuerySet[Service]:
    """The services a visitor may choose, in the catalogue's order."""
    return Service.objects.active()


def invoice_net_paid(invoice: Invoice) -> Decimal:
    """What the ledger holds for the invoice: payments minus reversals and refunds, in the
    invoice's currency (entries in another currency do not count). One query."""
    net = (
        Invoice.objects.with_ledger_net()
        .filter(pk=invoice.pk)
        .values_list("ledger_net", flat=True)
        .get()
    )
    return quantize(net)


def invoice_public_get(*, token: str) -> Invoice | None:
    """The invoice a customer's link names, or None. Drafts are not documents yet: nobody
    outside the back office sees them."""
    return (
        Invoice.objects.exclude(status=Invoice.Status.DRAFT)
        .select_related("client")
        .filter(token=token)
        .first()
    )


def invoice_status_payload(invoice: Invoice) -> dict:
    """The `/invoices/<token>/status/` JSON of the contract (money as decimal strings)."""
    return {
        "number": invoice.number,
        "status": invoice.status,
        "total": to_wire(invoice.total),
        "currency": invoice.currency,
        "amount_paid": to_wire(invoice_net_paid(invoice)),
        "payments": [
            {
                "gateway": attempt.gateway,
                "status": attempt.status,
                "reference": attempt.merchant_reference,
            }
            for attempt in invoice.payment_attempts.order_by("-created_at", "-pk")[:STATUS_ATTEMPTS]
        ],
    }


def invoice_payment_state(invoice: Invoice) -> dict:
    """What the invoice page shows about payments: the latest attempt and the receipt."""
    Status = PaymentAttempt.Status
    attempts = list(invoice.payment_attempts.order_by("-created_at", "-pk")[:PAGE_ATTEMPTS])
    latest = attempts[0] if attempts else None
    receipt = next(
        (a for a in attempts if a.status == Status.COMPLETED and not a.needs_refund), None
    )
    return {
        "latest_attempt": latest,
        "waiting": latest is not None and latest.is_open,
        "failed": latest is not None and latest.status in (Status.FAILED, Status.EXPIRED),
        "receipt": receipt if invoice.status == Invoice.Status.PAID else None,
    }


def invoice_attempts_open(invoice: Invoice) -> list[PaymentAttempt]:
    """The invoice's attempts still waiting for the customer (what a void would close)."""
    return list(invoice.payment_attempts.filter(status__in=OPEN_STATUSES).order_by("pk"))


def invoice_payments_completed(invoice: Invoice) -> list[PaymentAttempt]:
    """The invoice's completed payments, oldest first (each has a receipt and may be refunded)."""
    return list(
        invoice.payment_attempts.filter(status=PaymentAttempt.Status.COMPLETED).order_by(
            "completed_at", "pk"
        )
    )
