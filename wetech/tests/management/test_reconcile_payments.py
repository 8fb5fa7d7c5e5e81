"""`reconcile_payments`: re-query unsettled attempts, expire stale ones, report to a person."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from wetech.models import Invoice, LedgerEntry, PaymentAttempt, Refund
from wetech.payments.gateways.base import GatewayUnavailable, PaymentStatus
from wetech.payments.reconcile import attempt_backoff, attempts_reconcile
from wetech.payments.refunds import refund_request
from wetech.payments.start import payment_start
from wetech.tests.email_helpers import delivered, outbox_deliver
from wetech.tests.payment_helpers import issued_invoice

Status = PaymentAttempt.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt(pesapal):
    return payment_start(invoice=issued_invoice(), gateway="pesapal").attempt


def _run(*args):
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def test_backoff_grows_with_checks_up_to_six_hours():
    assert [attempt_backoff(n) for n in (0, 1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert attempt_backoff(30) == timedelta(hours=6)


def test_a_lost_notification_is_credited_once(pesapal, attempt, django_capture_on_commit_callbacks):
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        out = _run()
        again = attempts_reconcile(now=timezone.now() + timedelta(hours=1))
    assert f"{attempt.merchant_reference} (pesapal): pending -> completed" in out
    assert "reconcile_payments: checked 1, changed 1" in out
    assert again.changed == 0
    assert Invoice.objects.get().status == Invoice.Status.PAID
    assert LedgerEntry.objects.count() == 1
    assert len([m for m in delivered() if m.subject.startswith("Receipt")]) == 1


def test_recently_checked_attempts_wait_for_their_backoff(pesapal, attempt):
    _run()
    out = _run()
    assert "checked 0" in out and "not due yet 1" in out
    assert len(pesapal.status_calls) == 1


def test_older_than_leaves_fresh_attempts_alone(pesapal, attempt):
    out = _run("--older-than", "10")
    assert "checked 0" in out
    assert pesapal.status_calls == []


def test_pending_past_expiry_is_expired_and_a_late_success_still_credited(pesapal, attempt):
    later = timezone.now() + timedelta(minutes=61)
    with time_machine.travel(later, tick=False):
        report = attempts_reconcile()
    attempt.refresh_from_db()
    assert report.expired == 1 and attempt.status == Status.EXPIRED
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    with time_machine.travel(later + timedelta(hours=1), tick=False):
        report = attempts_reconcile()
    attempt.refresh_from_db()
    assert report.changed == 1
    assert attempt.status == Status.COMPLETED
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_failure_is_applied(pesapal, attempt):
    pesapal.answer(attempt, PaymentStatus.FAILED)
    _run()
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED


def test_mismatch_needs_a_person_and_exits_non_zero(pesapal, attempt):
    pesapal.answer(attempt, PaymentStatus.COMPLETED, amount=attempt.amount - 1)
    with pytest.raises(CommandError, match="1 payment\\(s\\) need a person"):
        _run()
    attempt.refresh_from_db()
    assert attempt.status == Status.NEEDS_REVIEW


def test_unreachable_gateway_exits_non_zero(pesapal, attempt):
    pesapal.fail_with(attempt, GatewayUnavailable("down", gateway="pesapal"))
    with pytest.raises(CommandError, match="gateway unreachable: pesapal"):
        _run()
    attempt.refresh_from_db()
    assert attempt.status == Status.PENDING


def test_azampay_is_polled_only_with_the_status_query(settings, fakes):
    _, azampay = fakes
    attempt = payment_start(
        gateway="azampay", invoice=issued_invoice(), phone="+255712345678", provider="Mpesa"
    ).attempt
    azampay.statuses[attempt.gateway_reference] = PaymentStatus.COMPLETED
    assert attempts_reconcile().checked == 0
    settings.AZAMPAY_STATUS_QUERY = True
    report = attempts_reconcile()
    assert report.changed == 1
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_unaskable_attempts_still_expire(fakes):
    attempt = payment_start(
        gateway="azampay", invoice=issued_invoice(), phone="+255712345678", provider="Mpesa"
    ).attempt
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        report = attempts_reconcile()
    attempt.refresh_from_db()
    assert report.expired == 1 and attempt.status == Status.EXPIRED


def test_negative_older_than_is_refused(db):
    with pytest.raises(CommandError):
        _run("--older-than", "-1")


# --- refunds in flight ----------------------------------------------------------------------------


@pytest.fixture
def refund_in_flight(pesapal, attempt):
    pesapal.answer(attempt, PaymentStatus.COMPLETED, payment_method="Visa")
    attempts_reconcile()
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    return refund_request(attempt=attempt, reason="Cancelled", actor="amina")


def test_a_refund_in_flight_is_polled_until_the_gateway_reports_it_reversed(
    pesapal, attempt, refund_in_flight, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(hours=1)
    calls = len(pesapal.status_calls)
    # Pesapal still says completed: asked, nothing changes, nobody is needed.
    report = attempts_reconcile(now=later)
    assert (report.checked, report.changed, report.needs_person) == (1, 0, [])
    assert len(pesapal.status_calls) == calls + 1

    pesapal.answer(attempt, PaymentStatus.REVERSED)
    with django_capture_on_commit_callbacks(execute=True):
        report = attempts_reconcile(now=later + timedelta(hours=6))

    assert report.changed == 1 and report.ok
    assert f"{attempt.merchant_reference} (pesapal): completed -> reversed" in report.lines
    refund_in_flight.refresh_from_db()
    assert refund_in_flight.status == Refund.Status.COMPLETED
    assert Invoice.objects.get().status == Invoice.Status.REFUNDED
    assert [m.subject for m in delivered() if m.subject.startswith("Refund:")]
    # Done: it is not asked about again.
    assert attempts_reconcile(now=later + timedelta(days=1)).checked == 0


def test_staff_are_told_once_when_a_refund_waits_too_long(
    settings, pesapal, attempt, refund_in_flight
):
    settings.REFUND_ALERT_AFTER_DAYS = 7
    outbox_deliver()
    mail.outbox.clear()
    requested = refund_in_flight.requested_at

    with time_machine.travel(requested + timedelta(days=6, hours=23), tick=False):
        assert _run() and outbox_deliver() == []
    with (
        time_machine.travel(requested + timedelta(days=7, hours=1), tick=False),
        pytest.raises(CommandError, match=r"1 payment\(s\) need a person"),
    ):
        _run()
    with time_machine.travel(requested + timedelta(days=9), tick=False):
        _run()
        # Queued at day 7 (the worker sends what is due; the clock is still days ahead here).
        (alert,) = outbox_deliver()
    assert alert.to == ["accounts@wetech.co.tz"]
    assert alert.subject == (
        f"A refund is still waiting: TZS 413,000 of {attempt.merchant_reference} "
        f"(invoice {attempt.invoice.number})"
    )
    assert f"Refund {refund_in_flight.reference} was asked of the gateway 7 days ago" in alert.body
    refund_in_flight.refresh_from_db()
    assert refund_in_flight.alerted_at is not None
