from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from wetech.models import CreditNote, CreditNoteCounter, PaymentAttempt, Refund
from wetech.sales.credit_notes import credit_note_issue
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


def _refund(reference: str) -> Refund:
    invoice = issued_invoice()
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="azampay",
        merchant_reference=f"{invoice.number}-{reference}",
        amount=invoice.total,
        currency=invoice.currency,
    )
    return Refund.objects.create(
        invoice=invoice,
        attempt=attempt,
        reference=reference,
        amount=Decimal("1000.00"),
        currency="TZS",
        method=Refund.Method.MANUAL,
        status=Refund.Status.COMPLETED,
        reason="Cancelled,\nat the customer's request",
        requested_by="amina",
    )


def test_a_rolled_back_issue_gives_its_number_back():
    refund = _refund("R1")
    now = timezone.now()
    with pytest.raises(RuntimeError), transaction.atomic():
        credit_note_issue(refund=refund, paid=Decimal("413000.00"), now=now)
        raise RuntimeError("the refund's transaction failed")
    assert not CreditNote.objects.exists()
    with transaction.atomic():
        note = credit_note_issue(refund=refund, paid=Decimal("413000.00"), now=now)
    assert note.number == f"CN-{timezone.localtime(now).year}-00001"
    assert CreditNoteCounter.objects.get().last_number == 1


def test_a_refund_has_one_credit_note():
    refund = _refund("R1")
    now = timezone.now()
    with transaction.atomic():
        first = credit_note_issue(refund=refund, paid=Decimal("413000.00"), now=now)
        again = credit_note_issue(refund=refund, paid=Decimal("1000.00"), now=now)
    assert first == again
    assert (first.amount, first.currency, first.invoice_id) == (
        Decimal("1000.00"),
        "TZS",
        refund.invoice_id,
    )
    # Staff's reason stays in the back office; the customer reads what the refund was.
    assert first.reason == f"Partial refund of payment {refund.attempt.merchant_reference}"
