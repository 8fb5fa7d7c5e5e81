"""The notification inbox: every message recorded first, then settled through the one pipeline.

The state rules as the gateways' messages exercise them (Pesapal's IPN and browser return,
AzamPay's callback), then issue 11's intake rules: AzamPay's callback and Pesapal's IPN are read
as JSON whatever their Content-Type; amounts are exact decimals from the wire to the ledger;
both of AzamPay's failure words fail an attempt; the AzamPay status query is off unless switched
on, and when it is on but fails the callback is judged as if it were off.
"""

import json
import logging
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory

from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt, ReviewCase
from wetech.payments import settlement
from wetech.payments.gateways.base import (
    GatewayRejected,
    GatewayUnavailable,
    MalformedNotification,
    PaymentStatus,
)
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.reconcile import attempt_recheck
from wetech.payments.start import payment_start
from wetech.sales.selectors import invoice_net_paid, invoice_status_payload
from wetech.tests.conftest import run_django
from wetech.tests.email_helpers import delivered
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
def invoice(db):
    return issued_invoice()


def _ipn(attempt, *, method="GET", kind="ipn", bypass_window=False, **fields):
    params = {
        "OrderTrackingId": attempt.gateway_reference,
        "OrderMerchantReference": attempt.merchant_reference,
        "OrderNotificationType": "IPNCHANGE",
        **fields,
    }
    factory = RequestFactory()
    if method == "GET":
        request = factory.get("/payments/pesapal/ipn/", params)
    else:
        request = factory.post(
            "/payments/pesapal/ipn/", json.dumps(params), content_type="application/json"
        )
    notification = notification_record(gateway="pesapal", kind=kind, request=request)
    return notification_process(notification=notification, bypass_window=bypass_window)


def _azampay_callback(body):
    request = RequestFactory().post(
        "/payments/azampay/callback/x/", json.dumps(body), content_type="application/json"
    )
    notification = notification_record(gateway="azampay", kind="callback", request=request)
    return notification_process(notification=notification)


def _started(invoice) -> PaymentAttempt:
    return payment_start(invoice=invoice, gateway="pesapal").attempt


def _receipts():
    return [m for m in delivered() if m.subject.startswith("Receipt")]


def _alerts():
    return [m for m in delivered() if m.subject.startswith("Action needed")]


# --- settling ---------------------------------------------------------------------------------


@pytest.mark.django_db
class TestSettle:
    def test_completion_pays_once_across_callback_ipn_and_reconciler(
        self, pesapal, invoice, django_capture_on_commit_callbacks
    ):
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        with django_capture_on_commit_callbacks(execute=True):
            browser = _ipn(attempt, kind="browser_return", OrderNotificationType="CALLBACKURL")
            ipn = _ipn(attempt, method="POST")
            recheck = attempt_recheck(attempt=attempt)
        assert [browser.result, ipn.result] == [Result.APPLIED, Result.DUPLICATE]
        assert not recheck.changed and recheck.duplicate
        invoice.refresh_from_db()
        attempt.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID and invoice.paid_at is not None
        assert attempt.status == Status.COMPLETED
        assert attempt.confirmation_code == "PSP123ABC"
        assert LedgerEntry.objects.count() == 1
        entry = LedgerEntry.objects.get()
        assert (entry.kind, entry.amount, entry.gateway_reference) == (
            "payment",
            Decimal("413000.00"),
            attempt.gateway_reference,
        )
        receipts = _receipts()
        assert len(receipts) == 1
        assert receipts[0].to == ["asha@example.co.tz"]
        assert attempt.merchant_reference in receipts[0].body
        assert "PSP123ABC" in receipts[0].body
        staff = [m for m in delivered() if m.subject.startswith("Paid:")]
        assert len(staff) == 1 and staff[0].to == ["accounts@wetech.co.tz"]
        assert invoice_status_payload(invoice)["amount_paid"] == "413000.00"
        assert invoice_status_payload(invoice)["payments"] == [
            {"gateway": "pesapal", "status": "completed", "reference": attempt.merchant_reference}
        ]

    def test_a_settlement_that_fails_keeps_nothing_and_leaves_the_message_unmarked(
        self, pesapal, invoice, monkeypatch
    ):
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)

        real = settlement.alerts_schedule
        broken = [True]

        def alerts_schedule(alerts):
            if broken:
                raise RuntimeError("the database went away mid-settlement")
            return real(alerts)

        monkeypatch.setattr(settlement, "alerts_schedule", alerts_schedule)
        with pytest.raises(RuntimeError):
            _ipn(attempt)

        # The message row was committed on arrival; its mark went with the settlement.
        message = GatewayNotification.objects.get()
        assert message.processed_at is None and message.result != Result.APPLIED
        assert LedgerEntry.objects.count() == 0
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        # The gateway's next try settles it.
        broken.clear()
        assert _ipn(attempt, bypass_window=True).result == Result.APPLIED
        assert LedgerEntry.objects.count() == 1

    def test_unknown_tracking_id_changes_nothing(self, pesapal, invoice):
        attempt = _started(invoice)
        attempt.gateway_reference = "00000000-forged"
        outcome = _ipn(attempt)
        assert outcome.result == Result.IGNORED
        assert pesapal.status_calls == []
        assert PaymentAttempt.objects.get().status == Status.PENDING
        assert not LedgerEntry.objects.exists()

    @pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.INVALID])
    def test_known_reference_while_gateway_says_pending_changes_nothing(
        self, pesapal, invoice, status
    ):
        attempt = _started(invoice)
        pesapal.answer(attempt, status)
        outcome = _ipn(attempt)
        assert outcome.result == Result.IGNORED
        attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert attempt.status == Status.PENDING and attempt.check_count == 1
        assert invoice.status == Invoice.Status.ISSUED
        assert not LedgerEntry.objects.exists()

    def test_foreign_merchant_reference_is_rejected_without_asking(self, pesapal, invoice):
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        outcome = _ipn(attempt, OrderMerchantReference="WT-2026-99999-DEADBEEF")
        assert outcome.result == Result.REJECTED
        assert pesapal.status_calls == []
        assert Invoice.objects.get().status == Invoice.Status.ISSUED

    @pytest.mark.parametrize(
        "changes",
        [
            {"amount": Decimal("412999.99")},
            {"amount": Decimal("4130000.00")},
            {"currency": "KES"},
            {"merchant_reference": "WT-2026-00001-OTHER"},
        ],
    )
    def test_mismatch_goes_to_review_never_paid(
        self, pesapal, invoice, changes, django_capture_on_commit_callbacks
    ):
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED, **changes)
        with django_capture_on_commit_callbacks(execute=True):
            outcome = _ipn(attempt)
        assert outcome.result == Result.APPLIED
        attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert invoice.status == Invoice.Status.NEEDS_REVIEW
        assert invoice.paid_at is None
        assert not LedgerEntry.objects.exists()
        assert _receipts() == []
        assert len(_alerts()) == 1

    def test_late_failure_never_overwrites_completed(self, pesapal, invoice):
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        _ipn(attempt)
        pesapal.answer(attempt, PaymentStatus.FAILED)
        outcome = _ipn(attempt)
        assert outcome.result == Result.DUPLICATE
        attempt.refresh_from_db()
        assert attempt.status == Status.COMPLETED
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_a_completion_after_a_failed_try_is_still_credited(self, settings, pesapal, invoice):
        # The two IPNs arrive further apart than the status window (status_queries).
        settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.FAILED)
        _ipn(attempt)
        attempt.refresh_from_db()
        assert attempt.status == Status.FAILED
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        _ipn(attempt)
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_reversal_after_completion_unpays_the_invoice(
        self, settings, pesapal, invoice, django_capture_on_commit_callbacks
    ):
        # The reversal comes long after the completion: further apart than the status window.
        settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
        attempt = _started(invoice)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        with django_capture_on_commit_callbacks(execute=True):
            _ipn(attempt)
            pesapal.answer(attempt, PaymentStatus.REVERSED)
            outcome = _ipn(attempt)
            again = _ipn(attempt)
        assert (outcome.result, again.result) == (Result.APPLIED, Result.DUPLICATE)
        attempt.refresh_from_db()
        invoice.refresh_from_db()
        assert attempt.status == Status.REVERSED
        # Unpaid again, and in review while its chargeback case is open.
        assert invoice.status == Invoice.Status.NEEDS_REVIEW and invoice.paid_at is None
        case = ReviewCase.objects.get()
        assert (case.kind, case.attempt, case.status) == ("reversal", attempt, "open")
        assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == [
            "payment",
            "reversal",
        ]
        assert invoice_net_paid(invoice) == Decimal("0.00")
        alerts = _alerts()
        assert len(alerts) == 1 and "reversed" in alerts[0].subject
        assert len(_receipts()) == 1

    def test_paid_twice_through_both_gateways_is_flagged_for_refund(
        self, pesapal, azampay, invoice, django_capture_on_commit_callbacks
    ):
        pesapal_attempt = _started(invoice)
        azampay_attempt = payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt
        pesapal.answer(pesapal_attempt, PaymentStatus.COMPLETED)
        with django_capture_on_commit_callbacks(execute=True):
            _ipn(pesapal_attempt)
            outcome = _azampay_callback(azampay_callback_body(azampay_attempt))
        assert outcome.result == Result.APPLIED
        azampay_attempt.refresh_from_db()
        assert azampay_attempt.status == Status.COMPLETED
        assert azampay_attempt.needs_refund
        assert LedgerEntry.objects.filter(kind="payment").count() == 2
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert invoice_net_paid(invoice) == Decimal("826000.00")
        assert len(_receipts()) == 1
        alerts = _alerts()
        assert len(alerts) == 1 and "refunded" in alerts[0].subject

    def test_expired_attempt_still_credits_a_late_success(self, pesapal, invoice):
        attempt = _started(invoice)
        PaymentAttempt.objects.filter(pk=attempt.pk).update(status=Status.EXPIRED)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        assert _ipn(attempt).result == Result.APPLIED
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_gateway_unavailable_during_requery_is_an_error_to_retry(self, pesapal, invoice):
        attempt = _started(invoice)
        pesapal.fail_with(attempt, GatewayUnavailable("down", gateway="pesapal"))
        outcome = _ipn(attempt)
        assert outcome.result == Result.ERROR and not outcome.processed
        notification = GatewayNotification.objects.get()
        assert notification.result == Result.ERROR
        assert notification.attempt == attempt

    def test_malformed_ipn_keeps_the_inbox_row(self, pesapal, db):
        request = RequestFactory().post(
            "/payments/pesapal/ipn/", "{not json", content_type="application/json"
        )
        notification = notification_record(gateway="pesapal", kind="ipn", request=request)
        with pytest.raises(MalformedNotification):
            notification_process(notification=notification)
        notification.refresh_from_db()
        assert notification.result == Result.REJECTED
        assert notification.body == "{not json"


@pytest.mark.django_db
class TestAzamPayCallback:
    def _attempt(self, invoice):
        return payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt

    def test_success_pays_and_stores_the_raw_body_without_the_phone(self, azampay, invoice):
        attempt = self._attempt(invoice)
        outcome = _azampay_callback(azampay_callback_body(attempt, password="hunter2"))
        assert outcome.result == Result.APPLIED
        assert Invoice.objects.get().status == Invoice.Status.PAID
        attempt.refresh_from_db()
        assert attempt.confirmation_code == "MNO12345"
        stored = json.loads(GatewayNotification.objects.get().body)
        assert stored["utilityref"] == attempt.merchant_reference
        assert stored["msisdn"] == "*********678"
        assert stored["password"] == "[redacted]"

    def test_wrong_amount_is_needs_review(self, azampay, invoice):
        attempt = self._attempt(invoice)
        _azampay_callback(azampay_callback_body(attempt, amount="1000"))
        attempt.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()

    def test_missing_amount_is_never_paid(self, azampay, invoice):
        attempt = self._attempt(invoice)
        body = azampay_callback_body(attempt)
        del body["amount"]
        _azampay_callback(body)
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW

    def test_success_for_another_transaction_goes_to_review(self, azampay, invoice):
        attempt = self._attempt(invoice)
        _azampay_callback(azampay_callback_body(attempt, reference="f" * 32, transid="f" * 32))
        attempt.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW

    @pytest.mark.parametrize("status_query", [False, True])
    def test_success_without_the_transaction_id_goes_to_review_never_paid(
        self, settings, azampay, invoice, status_query, django_capture_on_commit_callbacks
    ):
        # AzamPay gave us a transactionId at push time: a "success" that does not name it is
        # not enough to credit money, even when the status query agrees (gateways.md B7).
        settings.AZAMPAY_STATUS_QUERY = status_query
        attempt = self._attempt(invoice)
        assert attempt.gateway_reference
        azampay.statuses[attempt.gateway_reference] = PaymentStatus.COMPLETED
        body = azampay_callback_body(attempt)
        for key in ("reference", "transid", "externalreference"):
            del body[key]
        with django_capture_on_commit_callbacks(execute=True):
            outcome = _azampay_callback(body)
        assert outcome.result == Result.APPLIED
        attempt.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert "gateway reference (none)" in attempt.status_detail
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()
        assert _receipts() == []
        assert len(_alerts()) == 1

    def test_success_without_a_stored_transaction_id_takes_the_callbacks(self, azampay, invoice):
        # An ambiguous push stored no transactionId: the callback's own id is then recorded.
        attempt = self._attempt(invoice)
        reference = attempt.gateway_reference
        PaymentAttempt.objects.filter(pk=attempt.pk).update(gateway_reference="")
        assert (
            _azampay_callback(
                azampay_callback_body(
                    attempt, reference=reference, transid=reference, externalreference=reference
                )
            ).result
            == Result.APPLIED
        )
        attempt.refresh_from_db()
        assert attempt.status == Status.COMPLETED
        assert attempt.gateway_reference == reference

    @pytest.mark.parametrize("word", ["failure", "failed", "Success", "SUCCESS", "pending", ""])
    def test_only_exact_success_credits(self, azampay, invoice, word):
        attempt = self._attempt(invoice)
        body = azampay_callback_body(attempt, status="x", transactionstatus=word or "unknown")
        _azampay_callback(body)
        assert Invoice.objects.get().status == Invoice.Status.ISSUED
        assert not LedgerEntry.objects.exists()

    def test_unknown_reference_is_ignored(self, azampay, invoice):
        attempt = self._attempt(invoice)
        outcome = _azampay_callback(
            azampay_callback_body(attempt, utilityref="WT-2026-00001-FORGED00")
        )
        assert outcome.result == Result.IGNORED
        assert Invoice.objects.get().status == Invoice.Status.ISSUED

    def test_status_query_decides_when_it_is_on(self, settings, azampay, invoice):
        settings.AZAMPAY_STATUS_QUERY = True
        settings.GATEWAY_STATUS_COALESCE_SECONDS = 0  # callbacks further apart than the window
        attempt = self._attempt(invoice)
        outcome = _azampay_callback(azampay_callback_body(attempt))
        assert outcome.result == Result.IGNORED  # AzamPay still says pending
        assert Invoice.objects.get().status == Invoice.Status.ISSUED
        azampay.statuses[attempt.gateway_reference] = PaymentStatus.COMPLETED
        assert _azampay_callback(azampay_callback_body(attempt)).result == Result.APPLIED
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_malformed_callback_is_rejected(self, azampay, invoice):
        with pytest.raises(MalformedNotification):
            _azampay_callback({"hello": "world"})
        assert GatewayNotification.objects.get().result == Result.REJECTED


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_duplicate_ipns_credit_once(on_postgres, pesapal):
    invoice = issued_invoice()
    attempt = _started(invoice)
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    barrier = threading.Barrier(20)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            # Every IPN asks and settles (as staff's re-process does): the settlement's row
            # locks alone keep the credit single. (Coalesced IPNs: test_status_queries.)
            results.append(_ipn(attempt, method="POST", bypass_window=True).result)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == ["applied"] + ["duplicate"] * 19
    assert LedgerEntry.objects.count() == 1
    assert Invoice.objects.get().status == Invoice.Status.PAID
    assert len(_receipts()) == 1
    assert GatewayNotification.objects.count() == 20


# --- intake (issue 11) ----------------------------------------------------------------------------


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
