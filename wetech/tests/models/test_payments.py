"""The payment tables' own guarantees (constraints hold whatever the services do)."""

import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from wetech.models import LedgerEntry, PaymentAttempt
from wetech.models.payments import new_merchant_reference
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db
Status = PaymentAttempt.Status


def _attempt(invoice, **fields):
    values = {
        "invoice": invoice,
        "gateway": "pesapal",
        "merchant_reference": new_merchant_reference(invoice.number),
        "amount": invoice.total,
        "currency": invoice.currency,
        **fields,
    }
    return PaymentAttempt.objects.create(**values)


def test_merchant_reference_is_short_safe_and_random():
    references = {new_merchant_reference("WT-2026-00042") for _ in range(50)}
    assert len(references) == 50
    for reference in references:
        assert re.fullmatch(r"WT-2026-00042-[0-9A-F]{8}", reference)
        assert len(reference) <= 50


def test_one_open_attempt_per_invoice_and_gateway():
    invoice = issued_invoice()
    _attempt(invoice, status=Status.PENDING)
    _attempt(invoice, gateway="azampay", status=Status.PENDING)
    _attempt(invoice, status=Status.FAILED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(invoice, status=Status.INITIATED)


def test_gateway_reference_unique_per_gateway_when_set():
    invoice = issued_invoice()
    _attempt(invoice, status=Status.FAILED)
    _attempt(invoice, status=Status.FAILED)  # two empty references are fine
    _attempt(invoice, status=Status.FAILED, gateway_reference="abc")
    _attempt(invoice, status=Status.FAILED, gateway="azampay", gateway_reference="abc")
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(invoice, status=Status.FAILED, gateway_reference="abc")


def test_ledger_entry_once_per_gateway_reference_and_kind():
    invoice = issued_invoice()
    attempt = _attempt(invoice, status=Status.COMPLETED, gateway_reference="abc")
    fields = {
        "invoice": invoice,
        "attempt": attempt,
        "amount": Decimal("413000.00"),
        "currency": "TZS",
        "gateway": "pesapal",
        "gateway_reference": "abc",
    }
    LedgerEntry.objects.create(kind="payment", **fields)
    LedgerEntry.objects.create(kind="reversal", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(kind="payment", **fields)


def test_amounts_must_be_positive():
    invoice = issued_invoice()
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(invoice, amount=Decimal("0"))
