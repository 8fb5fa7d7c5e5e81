"""Invoices: drafting one for a lead, issuing it under a gapless per-year number, and the staff
actions on invoices (issue one typed by staff, void, send the invoice email again), each recorded
in the audit trail in the same transaction.

Reads (the status JSON, the page's payment state, the ledger's net) are in `selectors.py`.

Numbers come from the year's `InvoiceCounter` row, bumped (and so locked) inside the transaction
that issues the invoice: two issuers queue on the row lock, and a rollback gives the number back
with everything else, so the sequence has no gaps and no duplicates.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from wetech.models import (
    AuditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Lead,
    PaymentAttempt,
    Service,
)
from wetech.models.payments import OPEN_STATUSES
from wetech.money import quantize, to_wire
from wetech.sales.emails import invoice_email_schedule
from wetech.sales.selectors import invoice_net_paid

NUMBER_FORMAT = "WT-{year}-{sequence:05d}"


def invoice_number_next(*, year: int) -> str:
    """Take the next number of `year`. Must run inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice numbers are only taken inside the issuing transaction")
    # One statement creates the year's row or bumps it, takes its row lock and returns the
    # number: other issuers of the same year queue on that lock until we commit, and a rollback
    # gives the number back (PostgreSQL and SQLite both have INSERT ... ON CONFLICT RETURNING).
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(_NUMBER_TAKE, [year])
        (sequence,) = cursor.fetchone()
    return NUMBER_FORMAT.format(year=year, sequence=sequence)


_COUNTER = InvoiceCounter._meta.db_table
_NUMBER_TAKE = (
    f"INSERT INTO {_COUNTER} (year, last_number) VALUES (%s, 1) "  # noqa: S608 (our table)
    f"ON CONFLICT (year) DO UPDATE SET last_number = {_COUNTER}.last_number + 1 "
    "RETURNING last_number"
)


def invoice_totals_compute(*, invoice: Invoice, line_amounts=None) -> None:
    """Set subtotal, tax and total of a draft from its lines (tax half-up to cents)."""
    if line_amounts is None:
        line_amounts = (line.amount for line in invoice.lines.all())
    subtotal = quantize(sum(line_amounts, start=0))
    invoice.subtotal = subtotal
    invoice.tax = quantize(subtotal * invoice.tax_rate)
    invoice.total = subtotal + invoice.tax


def service_line_description(service: Service, language: str) -> str:
    """The invoice line for a service, in the invoice's language: "Business website (one-off)".
    Frozen once the invoice is issued, whatever the catalogue says later."""
    with translation.override(language):
        # The catalogue's fields read in the active language (django-modeltranslation).
        name, note = service.name, service.price_note
    return f"{name} ({note})" if note else name


def _invoice_for(lead: Lead, *, currency: str) -> Invoice:
    """A new (unsaved) invoice to the lead's buyer, in the customer's language."""
    return Invoice(
        client=lead.client,
        lead=lead,
        client_name=lead.name,
        client_email=lead.email,
        client_phone=lead.phone,
        client_company=lead.company,
        # The buyer's TIN as they gave it with this order: the tax invoice keeps it.
        client_tin=lead.tin,
        # The language they wrote to us in: the invoice page, its emails and its PDF use it.
        language=lead.language,
        currency=currency,
        tax_rate=settings.INVOICE_TAX_RATE,
    )


def invoice_create_for_lead(*, lead: Lead) -> Invoice | None:
    """A draft invoice with its one line for the lead's priced service (None when there is
    nothing to invoice), its totals computed from that line; `invoice_issue_new` issues it.

    Runs inside the lead's transaction (`lead_capture`): the invoice and its line are each
    written once, never saved as a draft and read back.
    """
    service = lead.service
    if service is None or not service.is_priced:
        return None
    invoice = _invoice_for(lead, currency=service.currency)
    line = InvoiceLine(
        position=1,
        description=service_line_description(service, lead.language),
        quantity=1,
        unit_price=service.price,
    )
    line.amount = quantize(line.quantity * line.unit_price)
    invoice_totals_compute(invoice=invoice, line_amounts=[line.amount])
    invoice.save()
    line.invoice = invoice
    # The invoice was inserted as a draft just above: `InvoiceLine.save` would read it back
    # only to find that out.
    InvoiceLine.objects.bulk_create([line])
    return invoice


def invoice_issue_new(*, invoice: Invoice) -> Invoice:
    """Issue a draft this transaction has just written with its final lines and totals (as
    `invoice_create_for_lead` does): number, dates and status in one UPDATE.

    Call it last before the commit: from the moment the number is taken until the commit, every
    other issuer of the year waits on the counter's row lock, so whatever runs in between runs
    for all of them in turn.
    """
    now = timezone.now()
    today = timezone.localtime(now).date()
    changes = {
        "number": invoice_number_next(year=today.year),
        "issued_at": now,
        "due_date": today + timedelta(days=settings.INVOICE_DUE_DAYS),
        "status": Invoice.Status.ISSUED,
        "updated_at": now,
    }
    if Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(**changes) != 1:
        raise ValueError(f"invoice {invoice.pk} is not a draft of this transaction")
    for field, value in changes.items():
        setattr(invoice, field, value)
    return invoice


@transaction.atomic
def invoice_issue(*, invoice: Invoice) -> Invoice:
    """Number and issue a draft; from here on its lines and totals are fixed."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise ValueError(f"invoice {invoice.number} is already {invoice.status}")
    invoice_totals_compute(invoice=invoice)
    now = timezone.now()
    invoice.number = invoice_number_next(year=timezone.localtime(now).year)
    invoice.issued_at = now
    invoice.due_date = timezone.localtime(now).date() + timedelta(days=settings.INVOICE_DUE_DAYS)
    invoice.status = Invoice.Status.ISSUED
    invoice.save()
    return invoice


class InvoiceActionNotAllowed(Exception):
    """A staff action the invoice (or lead) is not in a state for; the message says why."""


def _audit(
    *, actor: str, user, action: str, invoice: Invoice, reason: str, data: dict
) -> AuditEntry:
    # The same row as `wetech.payments.audit.audit_record` writes: sales sits below payments
    # and cannot call it, and the entry must commit with the change it records.
    return AuditEntry.objects.create(
        actor=actor, actor_user=user, action=action, invoice=invoice, reason=reason, data=data
    )


@dataclass(frozen=True)
class InvoiceLineInput:
    """One line as staff typed it."""

    description: str
    quantity: Decimal
    unit_price: Decimal


@transaction.atomic
def invoice_issue_for_lead(
    *,
    lead: Lead,
    lines: Sequence[InvoiceLineInput],
    reason: str,
    actor: str,
    user=None,
) -> Invoice:
    """Issue an invoice with staff's lines for a lead whose service is priced on request, and
    send it to the customer (after commit). Same numbering and VAT as every invoice.

    Raises InvoiceActionNotAllowed when the lead already has an invoice, its service has a
    price (its invoice was issued when it came in) or it names no service, or the lines add up
    to nothing.
    """
    # The lead's row alone is locked (its service may be absent: an outer join PostgreSQL will
    # not lock); two staff issuing for the same lead queue here, and the second is refused.
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("service", "client")
        .get(pk=lead.pk)
    )
    existing = Invoice.objects.filter(lead=lead).values_list("number", flat=True).first()
    if existing is not None:
        raise InvoiceActionNotAllowed(f"this lead already has invoice {existing or '(draft)'}")
    service = lead.service
    if service is None:
        raise InvoiceActionNotAllowed("this lead is a general enquiry: it names no service")
    if service.is_priced:
        raise InvoiceActionNotAllowed(
            f"{service.name} has a price: its invoice is issued when the lead comes in"
        )
    amounts = [quantize(line.quantity * line.unit_price) for line in lines]
    if not lines or sum(amounts, start=Decimal("0")) <= 0:
        raise InvoiceActionNotAllowed("the lines add up to nothing")
    invoice = _invoice_for(lead, currency=service.currency)
    invoice.save()
    for position, line in enumerate(lines, start=1):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
    invoice = invoice_issue(invoice=invoice)
    _audit(
        actor=actor,
        user=user,
        action=AuditEntry.Action.INVOICE_ISSUED,
        invoice=invoice,
        reason=reason,
        data={
            "lead": lead.pk,
            "lines": len(lines),
            "total": to_wire(invoice.total),
            "currency": invoice.currency,
        },
    )
    invoice_email_schedule(invoice=invoice)
    return invoice


@dataclass(frozen=True)
class InvoiceVoided:
    invoice: Invoice
    # The attempts the void closed; those a gateway named still have an order there, which
    # the caller asks the gateway to cancel once this has committed.
    closed_attempts: list[PaymentAttempt]


def invoice_void(*, invoice: Invoice, reason: str, actor: str, user=None) -> InvoiceVoided:
    """Void an unpaid invoice: it can no longer be paid, and its open attempts are closed.

    Raises InvoiceActionNotAllowed for a draft (delete it instead), an invoice that is paid,
    refunded or already void, one in review, or one that holds money (a part payment).
    Cancelling the closed attempts' orders at their gateways is the caller's next step
    (`wetech.payments.start.attempt_orders_cancel`): sales does not talk to gateways, and no
    gateway is called inside a transaction.
    """
    with transaction.atomic():
        # Attempts before the invoice: the order settlement locks them in, so never a deadlock.
        attempts = list(
            PaymentAttempt.objects.select_for_update()
            .filter(invoice_id=invoice.pk, status__in=OPEN_STATUSES)
            .order_by("pk")
        )
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != Invoice.Status.ISSUED:
            raise InvoiceActionNotAllowed(
                f"invoice {invoice.number or '(draft)'} is "
                f"{invoice.get_status_display().lower()}: only an unpaid issued invoice is voided"
            )
        held = invoice_net_paid(invoice)
        if held > 0:
            raise InvoiceActionNotAllowed(
                f"invoice {invoice.number} holds {to_wire(held)} {invoice.currency}:"
                " refund that payment before voiding it"
            )
        previous = invoice.status
        invoice.status = Invoice.Status.VOID
        invoice.save(update_fields=["status", "updated_at"])
        for attempt in attempts:
            attempt.status = PaymentAttempt.Status.EXPIRED
            attempt.status_detail = "Invoice voided"
            attempt.save(update_fields=["status", "status_detail", "updated_at"])
        _audit(
            actor=actor,
            user=user,
            action=AuditEntry.Action.INVOICE_VOIDED,
            invoice=invoice,
            reason=reason,
            data={
                "previous_status": previous,
                "closed_attempts": [attempt.merchant_reference for attempt in attempts],
            },
        )
    return InvoiceVoided(invoice=invoice, closed_attempts=attempts)


def invoice_email_resend(*, invoice: Invoice, reason: str, actor: str, user=None) -> AuditEntry:
    """Send the customer the invoice email again (after commit), recorded in the audit trail.
    Raises InvoiceActionNotAllowed for a draft or a void invoice."""
    with transaction.atomic():
        invoice = Invoice.objects.get(pk=invoice.pk)
        if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
            raise InvoiceActionNotAllowed(
                f"invoice {invoice.number or '(draft)'} is {invoice.get_status_display().lower()}:"
                " there is nothing to send"
            )
        entry = _audit(
            actor=actor,
            user=user,
            action=AuditEntry.Action.EMAIL_RESENT,
            invoice=invoice,
            reason=reason,
            data={"email": "invoice", "to": "customer"},
        )
        invoice_email_schedule(invoice=invoice)
    return entry
