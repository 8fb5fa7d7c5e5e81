"""Credit notes: the document a customer gets for a completed refund, `CN-<year>-<5 digits>`.

Numbered like invoices: the year's `CreditNoteCounter` row is taken with an UPDATE (a row lock)
inside the transaction that completes the refund, so two refunds completing at once queue on it
and a rollback gives the number back: gapless and unique per year.
"""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wetech.models import CreditNote, CreditNoteCounter, Refund

NUMBER_FORMAT = "CN-{year}-{sequence:05d}"


def credit_note_number_next(*, year: int) -> str:
    """Take the next credit-note number of `year`. Must run inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("credit-note numbers are only taken inside the issuing transaction")
    counters = CreditNoteCounter.objects.filter(year=year)
    if not counters.update(last_number=F("last_number") + 1):
        CreditNoteCounter.objects.get_or_create(year=year)
        counters.update(last_number=F("last_number") + 1)
    sequence = counters.values_list("last_number", flat=True).get()
    return NUMBER_FORMAT.format(year=year, sequence=sequence)


def credit_note_reason(refund: Refund, *, paid: Decimal) -> str:
    """What the credit note tells the customer. Staff's own reason for the refund stays in the
    back office and the audit trail: it may say what a customer should not read."""
    whole = "Refund" if refund.amount >= paid else "Partial refund"
    return f"{whole} of payment {refund.attempt.merchant_reference}"


def credit_note_issue(*, refund: Refund, paid: Decimal, now: datetime) -> CreditNote:
    """The credit note of a completed refund of a payment of `paid` (the one it already has,
    if any)."""
    existing = CreditNote.objects.filter(refund=refund).first()
    if existing is not None:
        return existing
    return CreditNote.objects.create(
        number=credit_note_number_next(year=timezone.localtime(now).year),
        invoice_id=refund.invoice_id,
        refund=refund,
        amount=refund.amount,
        currency=refund.currency,
        reason=credit_note_reason(refund, paid=paid)[:255],
        issued_at=now,
    )
