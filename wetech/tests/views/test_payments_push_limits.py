"""AzamPay push prompts are limited per invoice and per phone number, from the database.

The real AzamPay client runs against `responses`, so "no outbound call" is what went on the wire.
"""

import json
import uuid

import pytest
import responses
from django.core.cache import cache

from wetech.models import PaymentAttempt
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

BASE = "https://azampay.example"
TOKEN_URL = f"{BASE}/sandbox/azampay/auth/AppRegistration/GenerateToken"
PUSH_URL = f"{BASE}/sandbox/azampay/checkout/azampay/mno/checkout"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def http(settings):
    configure_gateways(settings, base_url=BASE)
    reset_gateway_clients()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            TOKEN_URL,
            json={"data": {"accessToken": "token-1", "expire": "2099-01-01T00:00:00Z"}},
        )
        mock.add_callback(
            responses.POST,
            PUSH_URL,
            callback=lambda request: (
                200,
                {},
                json.dumps({"success": True, "transactionId": uuid.uuid4().hex, "message": "ok"}),
            ),
            content_type="application/json",
        )
        yield mock
    reset_gateway_clients()


def _pushes(http):
    return [call for call in http.calls if call.request.url == PUSH_URL]


def _pay(client, invoice, phone="0712 345 678", **extra):
    # The cache (its rate-limit counters and the token) is emptied before every request: the
    # push limits must come from the database alone.
    cache.clear()
    return client.post(
        f"/invoices/{invoice.token}/pay/azampay/", {"phone": phone, "provider": "Mpesa"}, **extra
    )


@pytest.mark.django_db
def test_a_fourth_push_for_one_invoice_within_15_minutes_is_refused(client, http, time_machine):
    time_machine.move_to("2026-03-02T09:00:00+03:00", tick=False)
    invoice = issued_invoice()
    codes = []
    for minute in (0, 4, 8):
        time_machine.move_to(f"2026-03-02T09:{minute:02d}:00+03:00", tick=False)
        codes.append(_pay(client, invoice).status_code)
    assert codes == [303, 303, 303]
    calls_before = len(http.calls)

    time_machine.move_to("2026-03-02T09:10:00+03:00", tick=False)
    page = _pay(client, invoice)
    as_json = _pay(client, invoice, **JSON)

    assert page.status_code == 429
    html = page.content.decode()
    assert "Several payment prompts were sent for this invoice" in html
    assert "We have not sent another one." in html
    assert "Try again in 5 minutes, or choose the other way to pay below." in html
    assert invoice.number in html
    # The first push (09:00) leaves the 15-minute window at 09:15: five minutes from now.
    assert page["Retry-After"] == "300"
    assert as_json.status_code == 429
    error = as_json.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["retry_after"] == 300
    assert as_json["Retry-After"] == "300"
    # Nothing written, nothing sent (not even a token request after the cache was emptied).
    assert PaymentAttempt.objects.count() == 3
    assert len(http.calls) == calls_before
    assert len(_pushes(http)) == 3

    time_machine.move_to("2026-03-02T09:15:00+03:00", tick=False)
    assert _pay(client, invoice).status_code == 303
    assert PaymentAttempt.objects.count() == 4
    assert len(_pushes(http)) == 4


@pytest.mark.django_db
def test_a_sixth_push_to_one_phone_within_an_hour_is_refused(client, http, time_machine):
    time_machine.move_to("2026-03-02T09:00:00+03:00", tick=False)
    invoices = [issued_invoice(email=f"c{n}@example.co.tz") for n in range(6)]
    codes = []
    for n, invoice in enumerate(invoices[:5]):
        time_machine.move_to(f"2026-03-02T09:{n * 10:02d}:00+03:00", tick=False)
        codes.append(_pay(client, invoice).status_code)
    assert codes == [303] * 5
    calls_before = len(http.calls)

    time_machine.move_to("2026-03-02T09:45:00+03:00", tick=False)
    # Another invoice, the number written another way: still the same phone.
    refused = _pay(client, invoices[5], phone="+255 712 345 678", **JSON)

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"].startswith("Several payment prompts were sent to this phone number")
    assert error["retry_after"] == 15 * 60  # the 09:00 push leaves the hour at 10:00
    assert not PaymentAttempt.objects.filter(invoice=invoices[5]).exists()
    assert len(http.calls) == calls_before

    # Another phone is not held back by this one's limit.
    assert _pay(client, invoices[5], phone="0754 111 222").status_code == 303
    assert [json.loads(call.request.body)["accountNumber"] for call in _pushes(http)][-1] == (
        "255754111222"
    )


@pytest.mark.django_db
def test_the_limits_hold_with_the_cache_rate_limits_off(client, http, settings):
    settings.RATELIMIT_ENABLE = False
    invoice = issued_invoice()
    codes = [_pay(client, invoice).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    assert PaymentAttempt.objects.count() == 3
    assert len(_pushes(http)) == 3


@pytest.mark.django_db
def test_the_limits_are_settings(client, http, settings):
    settings.AZAMPAY_PUSHES_PER_INVOICE = 1
    invoice = issued_invoice()
    assert [_pay(client, invoice).status_code for _ in range(2)] == [303, 429]
    settings.AZAMPAY_PUSHES_PER_INVOICE = 0  # off
    settings.AZAMPAY_PUSHES_PER_PHONE = 2
    assert [_pay(client, invoice).status_code for _ in range(2)] == [303, 429]
