"""Settlement's branches that the notification tests do not reach, settled directly.

(The everyday paths, completion, duplicates, mismatches, late failures and reversals after a
credit, run through the inbox in test_start.py and test_third_gateway.py.)
"""

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from wetech.models import Invoice, LedgerEntry, PaymentAttempt
from wetech.models.payments import new_merchant_reference
from wetech.payments.gateways.base import PaymentFinding, PaymentStatus
from wetech.payments.settlement import attempt_settle
from wetech.sales.selectors import invoice_net_paid
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import issued_invoice

Status = PaymentAttempt.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _staff(settings):
    settings.STAFF_EMAILS = ["accounts@wetech.co.tz"]


@pytest.fixture
def attempt():
    invoice = issued_invoice()
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=new_merchant_reference(invoice.number),
        gateway_reference=str(uuid.uuid4()),
        amount=invoice.total,
        currency=invoice.currency,
        status=Status.PENDING,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def _finding(attempt, status, **changes) -> PaymentFinding:
    values = {
        "status": status,
        "amount": attempt.amount,
        "currency": attempt.currency,
        "merchant_reference": attempt.merchant_reference,
        "gateway_reference": attempt.gateway_reference,
        "confirmation_code": "CONF-1",
        "payment_method": "Visa",
        "detail": f"test: {status}",
    }
    return PaymentFinding(**{**values, **changes})


def _settle(attempt, status, **changes):
    return attempt_settle(
        attempt_id=attempt.pk, finding=_finding(attempt, status, **changes), source="test"
    )


def _alerts():
    return [m for m in delivered() if m.subject.startswith("Action needed")]


def test_a_completion_settles_directly_with_a_finding(attempt):
    finding = PaymentFinding(
        status=PaymentStatus.COMPLETED,
        amount=Decimal("413000"),
        currency="tzs",
        merchant_reference=attempt.merchant_reference,
        gateway_reference=attempt.gateway_reference,
    )
    result = attempt_settle(attempt_id=attempt.pk, finding=finding, source="test")
    assert result.changed and result.paid_now


def test_a_reversal_before_anything_was_credited_takes_nothing_back(
    attempt, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = _settle(attempt, PaymentStatus.REVERSED)

    assert (result.changed, result.duplicate, result.paid_now) == (True, False, False)
    attempt.refresh_from_db()
    assert attempt.status == Status.REVERSED
    assert attempt.status_detail == "Reversed by the gateway before it was credited here"
    assert attempt.check_count == 1
    assert not LedgerEntry.objects.exists()
    assert Invoice.objects.get().status == Invoice.Status.ISSUED
    assert delivered() == []
    # The same news again is a duplicate.
    assert _settle(attempt, PaymentStatus.REVERSED).duplicate


def test_money_arriving_on_a_void_invoice_is_kept_and_flagged_for_refund(
    attempt, django_capture_on_commit_callbacks
):
    Invoice.objects.filter(pk=attempt.invoice_id).update(status=Invoice.Status.VOID)

    with django_capture_on_commit_callbacks(execute=True):
        result = _settle(attempt, PaymentStatus.COMPLETED)

    assert (result.changed, result.paid_now, result.needs_person) == (True, False, True)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED and attempt.needs_refund
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount) == ("payment", attempt.amount)
    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.VOID and invoice.paid_at is None
    assert [m for m in delivered() if m.subject.startswith("Receipt")] == []
    alerts = _alerts()
    assert len(alerts) == 1 and "refunded" in alerts[0].subject
    assert f"Invoice {invoice.number} was already void" in alerts[0].body


def test_a_payment_already_in_the_ledger_is_not_counted_twice(
    attempt, caplog, django_capture_on_commit_callbacks
):
    # The ledger has the payment but the attempt row did not keep up (e.g. restored by hand).
    LedgerEntry.objects.create(
        invoice_id=attempt.invoice_id,
        attempt=attempt,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=attempt.amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        gateway_reference=attempt.gateway_reference,
    )

    with (
        caplog.at_level(logging.WARNING, logger="wetech.payments"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = _settle(attempt, PaymentStatus.COMPLETED)

    assert (result.changed, result.duplicate, result.paid_now) == (True, False, False)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED and not attempt.needs_refund
    assert LedgerEntry.objects.count() == 1
    assert delivered() == []
    assert f"payment {attempt.merchant_reference} was already in the ledger" in [
        r.getMessage() for r in caplog.records
    ]


def test_an_unknown_state_is_refused_and_changes_nothing(attempt):
    with pytest.raises(ValueError, match="unknown payment state 'refunded'"):
        _settle(attempt, "refunded")

    attempt.refresh_from_db()
    assert (attempt.status, attempt.check_count, attempt.last_checked_at) == (
        Status.PENDING,
        0,
        None,
    )
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.INVALID])
def test_no_news_is_noted_as_a_check_and_nothing_else(attempt, status):
    result = _settle(attempt, status)

    assert (result.changed, result.duplicate) == (False, False)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.check_count) == (Status.PENDING, 1)
    assert attempt.last_checked_at is not None


def test_the_attempt_is_saved_once_per_transition(attempt):
    _settle(attempt, PaymentStatus.COMPLETED)
    updates = []

    def count_updates(execute, sql, params, many, context):
        if sql.startswith('UPDATE "wetech_paymentattempt"'):
            updates.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_updates):
        result = _settle(attempt, PaymentStatus.REVERSED)

    assert result.changed
    assert len(updates) == 1
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["payment", "reversal"]
    assert invoice_net_paid(attempt.invoice) == Decimal("0.00")


@pytest.mark.parametrize(
    ("net", "covered"),
    [
        (Decimal("413000.00"), True),
        (Decimal("413000.01"), True),
        (Decimal("412999.99"), False),
        (Decimal("0"), False),
    ],
)
def test_the_paid_rule_is_the_invoices_own(net, covered):
    assert issued_invoice().is_covered_by(net) is covered
