"""A book of invoices with their whole history, for the back office's query-count and search
tests: each `book_add` call adds `count` clients, leads, invoices (one line each), completed
payments in the ledger, notifications, refunds with credit notes, review cases, audit entries
and emails, every kind of row the admin lists."""

from datetime import timedelta
from decimal import Decimal
from itertools import count as counter

from django.utils import timezone

from wetech.models import (
    AuditEntry,
    Client,
    CreditNote,
    GatewayNotification,
    Invoice,
    InvoiceLine,
    Lead,
    LedgerEntry,
    OutgoingEmail,
    PaymentAttempt,
    Refund,
    ReviewCase,
    Service,
)

_serial = counter(1)


def invoice_with_lines(client: Client, *, number: str, lines: int = 1, lead=None) -> Invoice:
    """An issued invoice with `lines` lines of TZS 100,000 (18% VAT)."""
    subtotal = Decimal(100_000 * lines)
    invoice = Invoice.objects.create(
        client=client,
        lead=lead,
        number=number,
        status=Invoice.Status.ISSUED,
        issued_at=timezone.now(),
        client_name=client.name,
        client_email=client.email,
        client_phone=client.phone,
        client_company=client.company,
        subtotal=subtotal,
        tax_rate=Decimal("0.18"),
        tax=subtotal * Decimal("0.18"),
        total=subtotal * Decimal("1.18"),
    )
    # bulk_create: issued lines are refused one by one (the document is frozen).
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            description=f"Line {position}",
            unit_price=Decimal(100_000),
            amount=Decimal(100_000),
        )
        for position in range(1, lines + 1)
    )
    return invoice


def paid_attempt(invoice: Invoice, *, suffix: str) -> PaymentAttempt:
    """A completed Pesapal payment of the whole invoice, in the ledger, with its IPN."""
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-{suffix}",
        gateway_reference=f"track-{invoice.number}-{suffix}",
        amount=invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.COMPLETED,
        completed_at=timezone.now(),
    )
    LedgerEntry.objects.create(
        invoice=invoice,
        attempt=attempt,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=attempt.amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        gateway_reference=attempt.gateway_reference,
    )
    GatewayNotification.objects.create(
        gateway="pesapal",
        kind=GatewayNotification.Kind.IPN,
        method="POST",
        attempt=attempt,
        result=GatewayNotification.Result.APPLIED,
        body='{"OrderTrackingId": "x"}',
    )
    return attempt


def refund_done(attempt: PaymentAttempt, *, amount=Decimal("1000.00")) -> Refund:
    """A completed partial refund, its ledger entry and its credit note."""
    invoice = attempt.invoice
    serial = next(_serial)
    refund = Refund.objects.create(
        invoice=invoice,
        attempt=attempt,
        reference=f"{invoice.number}-RF{serial:08X}",
        amount=amount,
        currency=attempt.currency,
        method=Refund.Method.GATEWAY,
        status=Refund.Status.COMPLETED,
        reason="Goodwill",
        requested_by="baraka",
        completed_at=timezone.now(),
    )
    LedgerEntry.objects.create(
        invoice=invoice,
        attempt=attempt,
        kind=LedgerEntry.Kind.REFUND,
        amount=amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        gateway_reference=refund.reference,
    )
    CreditNote.objects.create(
        number=f"CN-{timezone.now().year}-{serial:05d}",
        invoice=invoice,
        refund=refund,
        amount=amount,
        currency=attempt.currency,
        issued_at=timezone.now(),
    )
    return refund


def book_add(count: int) -> list[Invoice]:
    """`count` invoices, each with every kind of history the back office lists."""
    service, _ = Service.objects.get_or_create(
        slug="business-website",
        defaults={"name": "Business website", "summary": "A site.", "price": Decimal("100000")},
    )
    invoices = []
    for _ in range(count):
        n = next(_serial)
        client = Client.objects.create(
            name=f"Amina Mwakyusa {n}",
            email=f"amina{n}@example.co.tz",
            phone=f"+2557{n:08d}",
            company=f"Kilimanjaro Traders {n}",
        )
        lead = Lead.objects.create(
            client=client,
            service=service,
            name=client.name,
            email=client.email,
            phone=client.phone,
            company=client.company,
            source_page=f"/page-{n}/",
            utm_source=f"source-{n}",
        )
        invoice = invoice_with_lines(client, number=f"WT-2026-{n:05d}", lead=lead)
        attempt = paid_attempt(invoice, suffix=f"{n:08X}")
        refund_done(attempt)
        ReviewCase.objects.create(
            invoice=invoice,
            attempt=attempt,
            kind=ReviewCase.Kind.PAID_TWICE,
            summary="Paid twice",
            expected={"amount": str(invoice.total), "currency": "TZS"},
            gateway_said={"amount": str(invoice.total), "currency": "TZS"},
        )
        AuditEntry.objects.create(
            actor=f"staff{n}",
            action=AuditEntry.Action.REFUND_REQUESTED,
            invoice=invoice,
            attempt=attempt,
            reason="Goodwill",
        )
        OutgoingEmail.objects.create(
            template=f"template_{n}",
            to=[client.email],
            reason=f"invoice {invoice.number}",
            message_id=f"<{n}@wetech.test>",
            created_at=timezone.now() - timedelta(seconds=n),
        )
        invoices.append(invoice)
    return invoices
