"""The notification inbox: what it reads, whatever the gateways send (issue 11's intake rules).

AzamPay's callback and Pesapal's IPN are read as JSON whatever their Content-Type; amounts are
exact decimals from the wire to the ledger; both of AzamPay's failure words fail an attempt; the
AzamPay status query is off unless switched on, and when it is on but fails the callback is
judged as if it were off.
"""

import json
import logging
from decimal import Decimal

import pytest
from django.test import RequestFactory

from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt
from wetech.payments.gateways.base import GatewayRejected, GatewayUnavailable, PaymentStatus
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.start import payment_start
from wetech.tests.conftest import run_django
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

Status = PaymentAttempt.Status
Result = GatewayNotification.Result
SECRET = "simulator-callback-secret-0123456789abcdef"
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "",
]


@pytest.fixture
def push(db, azampay):
    return payment_start(
        invoice=issued_invoice(), gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt


def _callback(body: str, content_type="application/json"):
    request = RequestFactory().generic(
        "POST", f"/payments/azampay/callback/{SECRET}/", body, content_type=content_type
    )
    notification = notification_record(gateway="azampay", kind="callback", request=request)
    return notification_process(notification=notification)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_an_azampay_callback_is_json_whatever_its_content_type(client, push, content_type):
    response = client.generic(
        "POST",
        f"/payments/azampay/callback/{SECRET}/",
        json.dumps(azampay_callback_body(push)),
        content_type=content_type,
    )

    assert response.status_code == 200
    assert response.json()["result"] == "applied"
    assert Invoice.objects.get().status == Invoice.Status.PAID
    stored = json.loads(GatewayNotification.objects.get().body)
    assert stored["utilityref"] == push.merchant_reference


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_pesapal_ipn_is_json_whatever_its_content_type(client, db, pesapal, content_type):
    attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    body = {"OrderTrackingId": attempt.gateway_reference, "OrderNotificationType": "IPNCHANGE"}

    response = client.generic(
        "POST", "/payments/pesapal/ipn/", json.dumps(body), content_type=content_type
    )

    assert response.status_code == 200
    assert response.json()["status"] == 200
    assert Invoice.objects.get().status == Invoice.Status.PAID


@pytest.mark.parametrize("amount", ["413000.0", "413000", "413000.00", '"413000.0"', '"413000"'])
def test_amounts_are_exact_decimals_whatever_their_json_shape(push, amount):
    body = json.dumps(azampay_callback_body(push, amount="AMOUNT")).replace('"AMOUNT"', amount)

    assert _callback(body).result == Result.APPLIED

    push.refresh_from_db()
    assert push.status == Status.COMPLETED
    assert LedgerEntry.objects.get().amount == Decimal("413000.00")
    # The inbox keeps the number with the digits it came with.
    assert f'"amount": {amount}' in GatewayNotification.objects.get().body


def test_an_amount_a_float_would_round_is_not_rounded_into_a_match(push):
    body = json.dumps(azampay_callback_body(push, amount="AMOUNT")).replace(
        '"AMOUNT"', "413000.0000000000000000001"
    )

    assert _callback(body).result == Result.APPLIED

    push.refresh_from_db()
    assert push.status == Status.NEEDS_REVIEW
    assert "amount 413000.0000000000000000001 instead of 413000.00" in push.status_detail
    assert not LedgerEntry.objects.exists()
    assert '"amount": 413000.0000000000000000001' in GatewayNotification.objects.get().body


@pytest.mark.parametrize("word", ["failed", "failure", "FAILED", "Failure"])
def test_both_failure_words_fail_the_attempt(push, word):
    body = azampay_callback_body(push, status="failure", transactionstatus=word)

    assert _callback(json.dumps(body)).result == Result.APPLIED

    push.refresh_from_db()
    assert push.status == Status.FAILED
    assert word in push.status_detail
    assert Invoice.objects.get().status == Invoice.Status.ISSUED


@pytest.mark.parametrize("word", ["Success", "SUCCESS", "successful", "pending", "unknown"])
def test_only_the_exact_success_word_credits_and_others_stay_pending(push, word):
    body = azampay_callback_body(push, transactionstatus=word)

    assert _callback(json.dumps(body)).result == Result.IGNORED

    push.refresh_from_db()
    assert push.status == Status.PENDING
    assert not LedgerEntry.objects.exists()


def test_without_the_status_query_azampay_is_never_asked(push, azampay):
    azampay.statuses[push.gateway_reference] = GatewayUnavailable("down", gateway="azampay")

    assert _callback(json.dumps(azampay_callback_body(push))).result == Result.APPLIED
    assert Invoice.objects.get().status == Invoice.Status.PAID


@pytest.mark.parametrize(
    "error",
    [
        GatewayUnavailable("down", gateway="azampay"),
        GatewayRejected("Transaction not found.", gateway="azampay"),
    ],
)
@pytest.mark.parametrize(
    ("word", "status", "invoice_status"),
    [("success", Status.COMPLETED, "paid"), ("failed", Status.FAILED, "issued")],
)
def test_a_failing_status_query_judges_the_callback_as_if_it_were_off(
    settings, push, azampay, caplog, error, word, status, invoice_status
):
    settings.AZAMPAY_STATUS_QUERY = True
    azampay.statuses[push.gateway_reference] = error
    body = azampay_callback_body(push, status="x", transactionstatus=word)

    with caplog.at_level(logging.WARNING, logger="wetech.payments"):
        outcome = _callback(json.dumps(body))

    assert outcome.result == Result.APPLIED and outcome.processed
    push.refresh_from_db()
    assert push.status == status
    assert Invoice.objects.get().status == invoice_status
    assert f"azampay status of {push.merchant_reference} unavailable: {type(error).__name__}" in [
        record.getMessage() for record in caplog.records
    ]


def test_with_the_status_query_on_its_answer_decides(settings, push, azampay):
    settings.AZAMPAY_STATUS_QUERY = True
    azampay.statuses[push.gateway_reference] = PaymentStatus.FAILED

    assert _callback(json.dumps(azampay_callback_body(push))).result == Result.APPLIED

    push.refresh_from_db()
    assert push.status == Status.FAILED
    assert push.status_detail == "AzamPay status: failed"


def test_a_pesapal_notification_whose_query_fails_waits_for_the_next_try(pesapal, db):
    attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
    pesapal.fail_with(attempt, GatewayUnavailable("down", gateway="pesapal"))
    request = RequestFactory().get(
        "/payments/pesapal/ipn/", {"OrderTrackingId": attempt.gateway_reference}
    )
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)

    outcome = notification_process(notification=notification)

    # An IPN carries no news of its own: only the query could tell.
    assert outcome.result == Result.ERROR and not outcome.processed
    attempt.refresh_from_db()
    assert attempt.status == Status.PENDING


def test_the_status_query_is_off_by_default_even_with_the_simulator():
    code = (
        "from django.conf import settings as s; print(s.GATEWAY_SIMULATOR, s.AZAMPAY_STATUS_QUERY)"
    )
    result = run_django(
        "shell",
        "-c",
        code,
        env={"DEBUG": "true", "GATEWAY_SIMULATOR": "true", "AZAMPAY_STATUS_QUERY": None},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "False"]
