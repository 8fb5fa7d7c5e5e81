"""Status-query coalescing: repeated IPNs and callbacks for one payment do not each ask the gateway.

These run the real Pesapal (and AzamPay) client, transport, retry policy and breaker; `responses`
stands in for the gateway and counts what goes out.
"""

import json
import threading
import time
import uuid
from datetime import timedelta
from io import StringIO

import pytest
import responses
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt
from wetech.models.payments import new_merchant_reference
from wetech.payments.gateways.base import GatewayUnavailable
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.reconcile import attempt_recheck
from wetech.payments.status_queries import StatusQueryCoalesced, status_query
from wetech.tests.payment_helpers import azampay_callback_body, configure_gateways, issued_invoice

Result = GatewayNotification.Result
Status = PaymentAttempt.Status

STATUS_PATH = "/api/Transactions/GetTransactionStatus"
AZAMPAY_STATUS_PATH = "/api/v1/partner/gettransactionstatus"


class FakePesapal:
    """Pesapal's token and status endpoints under `responses`; `answer` is what it says now."""

    def __init__(self, mock, base_url: str, attempt: PaymentAttempt):
        self.mock = mock
        self.attempt = attempt
        self.answer = "pending"
        self.delay = 0.0
        expiry = (timezone.now() + timedelta(hours=1)).isoformat()
        mock.post(
            f"{base_url}/api/Auth/RequestToken",
            json={"token": "t0ken", "expiryDate": expiry, "error": None, "status": "200"},
        )
        mock.add_callback(responses.GET, f"{base_url}{STATUS_PATH}", callback=self._status)

    def _status(self, request):
        if self.delay:
            time.sleep(self.delay)  # keeps the query in flight while the others arrive
        attempt = self.attempt
        body = {
            "payment_method": "",
            "amount": int(attempt.amount),
            "confirmation_code": "",
            "order_tracking_id": attempt.gateway_reference,
            "payment_status_description": "",
            "description": None,
            "message": "Request processed successfully",
            "payment_account": "",
            "merchant_reference": attempt.merchant_reference,
            "currency": attempt.currency,
            "error": {"error_type": None, "code": None, "message": None},
            "status": "200",
        }
        if self.answer == "completed":
            body.update(
                status_code=1,
                payment_status_description="Completed",
                confirmation_code="PSP123ABC",
                payment_method="MpesaTZ",
            )
        elif self.answer == "failed":
            body.update(status_code=2, payment_status_description="Failed")
        else:
            body.update(
                status_code=0,
                payment_status_description="INVALID",
                error={
                    "error_type": "api_error",
                    "code": "payment_details_not_found",
                    "message": "Pending Payment",
                },
                status="500",
            )
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    @property
    def status_calls(self) -> int:
        return sum(1 for call in self.mock.calls if STATUS_PATH in call.request.url)


def _attempt(invoice, gateway="pesapal", **fields) -> PaymentAttempt:
    values = {
        "invoice": invoice,
        "gateway": gateway,
        "merchant_reference": new_merchant_reference(invoice.number),
        "gateway_reference": str(uuid.uuid4()),
        "amount": invoice.total,
        "currency": invoice.currency,
        "status": Status.PENDING,
        "expires_at": timezone.now() + timedelta(hours=1),
        **fields,
    }
    return PaymentAttempt.objects.create(**values)


@pytest.fixture
def gateway_settings(settings):
    configure_gateways(settings)
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 15
    return settings


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def attempt(db, gateway_settings):
    return _attempt(issued_invoice())


@pytest.fixture
def pesapal(http, gateway_settings, attempt):
    return FakePesapal(http, gateway_settings.PESAPAL_BASE_URL, attempt)


def _ipn_params(attempt) -> dict:
    return {
        "OrderTrackingId": attempt.gateway_reference,
        "OrderMerchantReference": attempt.merchant_reference,
        "OrderNotificationType": "IPNCHANGE",
    }


def _ipn(client, attempt):
    response = client.get("/payments/pesapal/ipn/", _ipn_params(attempt))
    assert response.status_code == 200
    return response.json()


def _ipn_direct(attempt, **options):
    request = RequestFactory().get("/payments/pesapal/ipn/", _ipn_params(attempt))
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)
    return notification_process(notification=notification, **options)


def _results() -> list[str]:
    return list(GatewayNotification.objects.order_by("pk").values_list("result", flat=True))


def test_repeated_ipns_within_the_window_ask_pesapal_once(client, pesapal, attempt):
    pesapal.answer = "completed"

    acks = [_ipn(client, attempt) for _ in range(5)]

    assert pesapal.status_calls == 1
    # Each repeat still gets Pesapal's normal acknowledgement, so Pesapal stops sending it.
    assert (
        acks
        == [
            {
                "orderNotificationType": "IPNCHANGE",
                "orderTrackingId": attempt.gateway_reference,
                "orderMerchantReference": attempt.merchant_reference,
                "status": 200,
            }
        ]
        * 5
    )
    assert _results() == [Result.APPLIED] + [Result.DUPLICATE] * 4
    repeat = GatewayNotification.objects.order_by("pk").last()
    assert repeat.attempt_id == attempt.pk
    assert repeat.error.startswith("not asked again: the gateway answered")
    assert LedgerEntry.objects.count() == 1
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_after_the_window_pesapal_is_asked_again(client, pesapal, attempt):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _ipn(client, attempt)
    with time_machine.travel(start + timedelta(seconds=14), tick=False):
        _ipn(client, attempt)
    assert pesapal.status_calls == 1
    assert _results() == [Result.IGNORED, Result.IGNORED]  # still pending, nothing to apply

    pesapal.answer = "completed"
    with time_machine.travel(start + timedelta(seconds=16), tick=False):
        assert _ipn(client, attempt)["status"] == 200

    assert pesapal.status_calls == 2
    assert _results()[-1] == Result.APPLIED
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_the_window_is_a_setting(client, gateway_settings, pesapal, attempt):
    gateway_settings.GATEWAY_STATUS_COALESCE_SECONDS = 0

    for _ in range(3):
        _ipn(client, attempt)

    assert pesapal.status_calls == 3


def test_the_browser_return_and_the_ipn_share_one_query(client, pesapal, attempt):
    pesapal.answer = "completed"
    params = {**_ipn_params(attempt), "OrderNotificationType": "CALLBACKURL"}

    browser = client.get("/payments/pesapal/callback/", params)
    ipn = _ipn(client, attempt)

    assert browser.status_code == 303
    assert browser["Location"] == f"/invoices/{attempt.invoice.token}/"
    assert ipn["status"] == 200
    assert pesapal.status_calls == 1
    assert _results() == [Result.APPLIED, Result.DUPLICATE]


def test_the_reconciler_always_asks(client, pesapal, attempt):
    _ipn(client, attempt)
    _ipn(client, attempt)
    assert pesapal.status_calls == 1

    pesapal.answer = "completed"
    call_command("reconcile_payments", stdout=StringIO())

    assert pesapal.status_calls == 2
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_news_answered_from_the_window_is_not_lost(client, pesapal, attempt):
    """A completion after a failed try, announced inside the window, is credited by the next
    reconciler run (the attempt is failed, not open, and was checked moments ago)."""
    pesapal.answer = "failed"
    _ipn(client, attempt)
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED

    pesapal.answer = "completed"
    _ipn(client, attempt)  # the customer retried and paid: answered from the window
    assert _results() == [Result.APPLIED, Result.DUPLICATE]
    assert Invoice.objects.get().status == Invoice.Status.ISSUED

    call_command("reconcile_payments", stdout=StringIO())

    assert pesapal.status_calls == 2
    assert Invoice.objects.get().status == Invoice.Status.PAID
    # Once asked, the attempt is not asked again at every run.
    call_command("reconcile_payments", stdout=StringIO())
    assert pesapal.status_calls == 2


def test_staff_recheck_always_asks(client, pesapal, attempt):
    _ipn(client, attempt)
    assert attempt_recheck(attempt=attempt).changed is False  # inside the window: not asked
    assert pesapal.status_calls == 1
    user = get_user_model().objects.create_superuser("boss", "boss@wetech.co.tz", "pw-123456789")
    client.force_login(user)

    pesapal.answer = "completed"
    response = client.post(
        "/admin/wetech/paymentattempt/",
        {"action": "recheck_now", "_selected_action": [attempt.pk]},
        follow=True,
    )

    assert f"{attempt.merchant_reference}: now completed" in response.content.decode()
    assert pesapal.status_calls == 2


def test_without_a_shared_cache_each_process_still_coalesces(gateway_settings, pesapal, attempt):
    # Redis refuses every connection: tokens, breaker and the in-flight key all fall back.
    gateway_settings.CACHES = {
        "default": {
            "BACKEND": "wetech.cache.PooledRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    outcomes = [_ipn_direct(attempt) for _ in range(3)]

    assert pesapal.status_calls == 1
    assert [outcome.result for outcome in outcomes] == [Result.IGNORED] * 3
    assert all(outcome.processed for outcome in outcomes)


class TestAzamPayCallbacks:
    @pytest.fixture
    def azampay_attempt(self, db, gateway_settings):
        return _attempt(issued_invoice(), gateway="azampay", provider="Mpesa")

    @staticmethod
    def _callback(attempt, **changes):
        request = RequestFactory().post(
            "/payments/azampay/callback/x/",
            json.dumps(azampay_callback_body(attempt, **changes)),
            content_type="application/json",
        )
        notification = notification_record(gateway="azampay", kind="callback", request=request)
        return notification_process(notification=notification)

    def test_with_the_status_query_on_repeats_ask_once(
        self, http, gateway_settings, azampay_attempt
    ):
        gateway_settings.AZAMPAY_STATUS_QUERY = True
        http.post(
            f"{gateway_settings.AZAMPAY_AUTH_URL}/AppRegistration/GenerateToken",
            json={
                "data": {"accessToken": "t0ken", "expire": "2099-01-01T00:00:00Z"},
                "message": "Token generated successfully",
                "success": True,
                "statusCode": 200,
            },
        )
        status_url = f"{gateway_settings.AZAMPAY_CHECKOUT_URL}{AZAMPAY_STATUS_PATH}"
        http.get(status_url, json={"data": "success", "message": "ok", "success": True})

        results = [self._callback(azampay_attempt).result for _ in range(4)]

        assert sum(1 for call in http.calls if AZAMPAY_STATUS_PATH in call.request.url) == 1
        assert results == [Result.APPLIED] + [Result.DUPLICATE] * 3
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_without_the_status_query_every_callback_is_news(self, http, azampay_attempt):
        # The callback itself is the truth here: nothing may be skipped.
        assert self._callback(azampay_attempt, status="failure").result == Result.APPLIED
        assert self._callback(azampay_attempt).result == Result.APPLIED
        assert Invoice.objects.get().status == Invoice.Status.PAID
        assert len(http.calls) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_ipns_make_exactly_one_status_call(on_postgres, http, gateway_settings):
    attempt = _attempt(issued_invoice())
    pesapal = FakePesapal(http, gateway_settings.PESAPAL_BASE_URL, attempt)
    pesapal.answer = "completed"
    pesapal.delay = 0.3
    workers = 12
    barrier = threading.Barrier(workers)
    outcomes, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            outcomes.append(_ipn_direct(attempt))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert pesapal.status_calls == 1
    results = sorted(outcome.result for outcome in outcomes)
    assert results.count(Result.APPLIED) == 1
    assert set(results) <= {Result.APPLIED, Result.DUPLICATE, Result.IGNORED}
    assert all(outcome.processed for outcome in outcomes)
    assert LedgerEntry.objects.count() == 1
    assert Invoice.objects.get().status == Invoice.Status.PAID


class TestOneKeyPerAttempt:
    """`status_query` itself, on the site's cache (local memory here, Redis in the PostgreSQL +
    Redis pass): the one key holds the lock, then the window."""

    @pytest.fixture(autouse=True)
    def _window(self, settings):
        settings.GATEWAY_STATUS_COALESCE_SECONDS = 15
        cache.clear()

    @staticmethod
    def _query(answers: list, *, attempt_id=7, bypass=False, ask=None):
        return status_query(
            gateway="pesapal",
            attempt_id=attempt_id,
            ask=ask or (lambda: answers.append("asked") or "answer"),
            bypass_window=bypass,
        )

    def test_a_query_in_flight_coalesces_the_next_and_a_bypass_still_asks(self):
        asked = []

        def ask():
            with pytest.raises(StatusQueryCoalesced, match="in flight"):
                self._query(asked)
            assert self._query(asked, bypass=True) == "answer"  # the reconciler, meanwhile
            asked.append("outer")
            return "outer answer"

        assert self._query(asked, ask=ask) == "outer answer"
        assert asked == ["asked", "outer"]
        with pytest.raises(StatusQueryCoalesced, match="answered"):
            self._query(asked)  # the answer opened the window

    def test_a_failed_query_opens_no_window_and_frees_the_lock(self):
        def fail():
            raise GatewayUnavailable("down", gateway="pesapal")

        with pytest.raises(GatewayUnavailable):
            self._query([], ask=fail)
        asked = []
        assert self._query(asked) == "answer"
        assert asked == ["asked"]

    def test_after_the_window_the_next_query_asks_again(self):
        start = timezone.now()
        asked = []
        with time_machine.travel(start, tick=False):
            self._query(asked)
        with time_machine.travel(start + timedelta(seconds=15.5), tick=False):
            # Past the window, the key may still be there (its TTL has a second of margin).
            self._query(asked)
        assert asked == ["asked", "asked"]

    def test_with_no_window_every_query_asks_and_none_is_left_locked(self, settings):
        settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
        asked = []
        for _ in range(3):
            self._query(asked)
        assert asked == ["asked"] * 3

    def test_attempts_do_not_share_a_key(self):
        asked = []
        self._query(asked, attempt_id=1)
        self._query(asked, attempt_id=2)
        assert asked == ["asked", "asked"]
