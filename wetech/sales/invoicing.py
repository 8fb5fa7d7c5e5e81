"""Invoices: drafting one for a lead and issuing it under a gapless per-year number.

Reads (the status JSON, the page's payment state, the ledger's net) are in `selectors.py`.

Numbers come from the year's `InvoiceCounter` row taken with `select_for_update` inside the
transaction that issues the invoice: two issuers queue on the row lock, and a rollback gives the
number back with everything else, so the sequence has no gaps and no duplicates.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from wetech.models import Invoice, InvoiceCounter, InvoiceLine, Lead, Service
from wetech.money import quantize

NUMBER_FORMAT = "WT-{year}-{sequence:05d}"


def invoice_number_next(*, year: int) -> str:
    """Take the next number of `year`. Must run inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice numbers are only taken inside the issuing transaction")
    # The UPDATE takes the year's row lock and bumps it in one statement; other issuers of the
    # same year queue on that lock until we commit. The first invoice of a year creates the row
    # (in a savepoint: a concurrent creator wins and we bump theirs).
    counters = InvoiceCounter.objects.filter(year=year)
    if not counters.update(last_number=F("last_number") + 1):
        InvoiceCounter.objects.get_or_create(year=year)
        counters.update(last_number=F("last_number") + 1)
    sequence = counters.values_list("last_number", flat=True).get()
    return NUMBER_FORMAT.format(year=year, sequence=sequence)


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


@transaction.atomic
def invoice_create_for_lead(*, lead: Lead) -> Invoice | None:
    """A draft invoice for the lead's priced service (None when there is nothing to invoice)."""
    service = lead.service
    if service is None or not service.is_priced:
        return None
    invoice = Invoice(
        client=lead.client,
        lead=lead,
        client_name=lead.name,
        client_email=lead.email,
        client_phone=lead.phone,
        client_company=lead.company,
        # The buyer's TIN as they gave it with this order: the tax invoice keeps it.
        client_tin=lead.tin,
        language=lead.language,
        currency=service.currency,
        tax_rate=settings.INVOICE_TAX_RATE,
    )
    line = InvoiceLine(
        position=1,
        description=service_line_description(service, lead.language),
        quantity=1,
        unit_price=service.price,
    )
    invoice_totals_compute(
        invoice=invoice, line_amounts=[quantize(line.quantity * line.unit_price)]
    )
    invoice.save()
    line.invoice = invoice
    line.save()
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
