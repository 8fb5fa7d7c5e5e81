"""Reads for the public pages: the catalogue on offer, and about invoices what the invoice page
and its PDF, the status JSON and settlement need to know.

Selectors only read (services in `invoicing.py` and `leads.py` write). They read the payment
attempts and the ledger through the models, never through `wetech.payments`: sales sits below
payments, which builds on it.
"""

from decimal import Decimal

from django.db.models import QuerySet

from wetech.models import Invoice, PaymentAttempt, Refund, Service
from wetech.models.invoices import LedgerTotals
from wetech.models.payments import OPEN_STATUSES
from wetech.money import quantize, to_wire

# How many attempts the page and the status JSON show; older ones are in the back office.
PAGE_ATTEMPTS = 10
STATUS_ATTEMPTS = 20


def service_list_offered() -> QuerySet[Service]:
    """The services a visitor may choose, in the catalogue's order."""
    return Service.objects.active()


def invoice_ledger_totals(invoice: Invoice) -> LedgerTotals:
    """The invoice's payments, reversals and completed refunds in its own currency (entries in
    another currency do not count). One query."""
    payments, reversals, refunds = (
        Invoice.objects.with_ledger_net()
        .filter(pk=invoice.pk)
        .values_list("ledger_payments", "ledger_reversals", "ledger_refunds")
        .get()
    )
    return LedgerTotals(
        payments=quantize(payments), reversals=quantize(reversals), refunds=quantize(refunds)
    )


def invoice_net_paid(invoice: Invoice) -> Decimal:
    """What WeTech holds for the invoice: payments minus reversals and completed refunds, in the
    invoice's currency. One query."""
    return invoice_ledger_totals(invoice).held


def invoice_refunds_in_flight(invoice: Invoice) -> Decimal:
    """Money requested back from a gateway for this invoice and not yet confirmed."""
    amounts = Refund.objects.filter(
        invoice=invoice, status=Refund.Status.REQUESTED, currency=invoice.currency
    ).values_list("amount", flat=True)
    return quantize(sum(amounts, Decimal("0.00")))


def invoice_balance_due(invoice: Invoice) -> Decimal:
    """What a new payment of the invoice must bring: the total, or what is left of it after an
    accepted short payment."""
    return invoice.balance_due(
        invoice_ledger_totals(invoice), refunds_in_flight=invoice_refunds_in_flight(invoice)
    )


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


def invoice_attempts_latest(invoice: Invoice) -> list[PaymentAttempt]:
    """The invoice's latest payment attempts, newest first (older ones are in the back office)."""
    return list(invoice.payment_attempts.order_by("-created_at", "-pk")[:PAGE_ATTEMPTS])


def invoice_payment_state(
    invoice: Invoice, *, attempts: list[PaymentAttempt] | None = None
) -> dict:
    """What the invoice page shows about paying: the latest attempt, whether it is still open or
    has failed, and what is left to pay. `attempts`: `invoice_attempts_latest` when the caller
    has it already."""
    Status = PaymentAttempt.Status
    if attempts is None:
        attempts = invoice_attempts_latest(invoice)
    latest = attempts[0] if attempts else None
    # Only money already received (an accepted short payment) leaves less than the total to
    # pay: the ledger is read only then, so an unpaid invoice's page costs no more queries.
    received = any(a.status in (Status.COMPLETED, Status.REVERSED) for a in attempts)
    return {
        "latest_attempt": latest,
        "waiting": latest is not None and latest.is_open,
        "failed": latest is not None and latest.status in (Status.FAILED, Status.EXPIRED),
        "balance_due": invoice_balance_due(invoice)
        if received and invoice.is_payable
        else invoice.total,
    }


def invoice_document(invoice: Invoice, *, attempts: list[PaymentAttempt] | None = None) -> dict:
    """What the invoice document says, on its page, printed and as a PDF: its lines; the receipt
    once paid (the completed payment that is not to be refunded), kept when it was refunded; and
    the completed refunds, each with its credit note.

    `attempts`: `invoice_attempts_latest` when the caller has it already. A refund is always of
    one of the invoice's payments, so without any attempt there is nothing to look up.
    """
    if attempts is None:
        attempts = invoice_attempts_latest(invoice)
    refunds = []
    if attempts:
        refunds = list(
            Refund.objects.filter(invoice=invoice, status=Refund.Status.COMPLETED)
            .select_related("credit_note")
            .order_by("completed_at", "pk")
        )
    # A payment refunded through the gateway's API is reported reversed by the gateway: on a
    # refunded invoice it is still the payment the receipt is for.
    refunded_payments = {refund.attempt_id for refund in refunds}
    receipt = None
    if invoice.status in (Invoice.Status.PAID, Invoice.Status.REFUNDED):
        receipt = next(
            (
                attempt
                for attempt in attempts
                if (attempt.status == PaymentAttempt.Status.COMPLETED and not attempt.needs_refund)
                or attempt.pk in refunded_payments
            ),
            None,
        )
    return {
        "invoice": invoice,
        "lines": list(invoice.lines.all()),
        "receipt": receipt,
        "refunds": refunds,
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
