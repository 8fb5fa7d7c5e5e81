from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from wetech.models import AuditEntry, AuditEntryLocked, PaymentAttempt
from wetech.payments.audit import SYSTEM, audit_record
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt():
    invoice = issued_invoice()
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-A1",
        amount=invoice.total,
        currency=invoice.currency,
    )


def test_an_entry_names_who_what_why_and_the_invoice_of_the_attempt(attempt):
    user = get_user_model().objects.create_user("amina", password="x" * 20, is_staff=True)

    entry = audit_record(
        actor="",
        user=user,
        action=AuditEntry.Action.REFUND_REQUESTED,
        attempt=attempt,
        reason="Customer cancelled",
        data={"amount": Decimal("413000.00"), "parts": [Decimal("1.50")], "when": None},
    )

    entry.refresh_from_db()
    assert (entry.actor, entry.actor_user, entry.invoice, entry.attempt) == (
        "amina",
        user,
        attempt.invoice,
        attempt,
    )
    assert entry.reason == "Customer cancelled"
    # Money keeps its exact digits in the trail.
    assert entry.data == {"amount": "413000.00", "parts": ["1.50"], "when": None}


def test_the_trail_is_append_only(attempt):
    entry = audit_record(actor=SYSTEM, action=AuditEntry.Action.CHARGEBACK, attempt=attempt)
    entry.reason = "changed"
    with pytest.raises(AuditEntryLocked):
        entry.save()
    with pytest.raises(AuditEntryLocked):
        AuditEntry.objects.all().delete()


def test_unknown_actions_and_nameless_actors_are_refused(attempt):
    with pytest.raises(ValueError, match="unknown audit action 'refund_dreamed'"):
        audit_record(actor=SYSTEM, action="refund_dreamed")
    with pytest.raises(ValueError, match="needs an actor"):
        audit_record(actor=" ", action=AuditEntry.Action.CHARGEBACK, attempt=attempt)
    assert not AuditEntry.objects.exists()
