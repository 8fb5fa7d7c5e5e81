from datetime import UTC, datetime

import pytest

from wetech.payments.gateways.base import GatewayMisconfigured
from wetech.payments.gateways.pesapal import PesapalClient
from wetech.payments.gateways.tokens import parse_expiry

from .conftest import (
    AZAMPAY_CHECKOUT,
    PESAPAL_BASE,
    add_azampay_token,
    add_pesapal_token,
    fixture_json,
    fixture_text,
)

PESAPAL_TOKEN = fixture_json("pesapal/request_token.json")["token"]
STATUS_URL = f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus"


def add_status(http, **kwargs):
    kwargs.setdefault("body", fixture_text("pesapal/status_completed.json"))
    return http.get(STATUS_URL, content_type="application/json", **kwargs)


def token_calls(http):
    return [c for c in http.calls if c.request.url.endswith("/RequestToken")]


def test_parse_expiry_reads_seven_fractional_digits_and_naive_values():
    assert parse_expiry("2024-03-18T08:23:21.1688946Z") == datetime(
        2024, 3, 18, 8, 23, 21, 168894, tzinfo=UTC
    )
    assert parse_expiry("2023-03-02T04:21:29") == datetime(2023, 3, 2, 4, 21, 29, tzinfo=UTC)
    assert parse_expiry("") is None
    assert parse_expiry(None) is None
    assert parse_expiry("tomorrow") is None


def test_pesapal_token_is_cached_until_a_minute_before_expiry(http, pesapal, time_machine):
    # expiryDate is 2024-03-18T08:23:21.17Z
    time_machine.move_to("2024-03-18T07:23:21Z", tick=False)
    add_pesapal_token(http)
    add_pesapal_token(http)
    for _ in range(3):
        add_status(http)

    pesapal.get_transaction_status("t")
    time_machine.move_to("2024-03-18T08:22:20Z", tick=False)
    pesapal.get_transaction_status("t")
    assert len(token_calls(http)) == 1

    time_machine.move_to("2024-03-18T08:22:22Z", tick=False)
    pesapal.get_transaction_status("t")
    assert len(token_calls(http)) == 2


def test_an_already_expired_token_is_used_once_and_not_cached(http, pesapal, time_machine):
    time_machine.move_to("2024-03-18T09:00:00Z", tick=False)
    add_pesapal_token(http)
    add_pesapal_token(http)

    pesapal.request_token()
    pesapal.request_token()

    assert len(token_calls(http)) == 2


def test_pesapal_refreshes_once_after_an_auth_error(http, pesapal, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    add_pesapal_token(http)
    add_status(http, body=fixture_text("pesapal/auth_error.json"))  # HTTP 200, error in body
    add_pesapal_token(http)
    add_status(http)

    status = pesapal.get_transaction_status("t")

    assert status.status == "completed"
    assert len(token_calls(http)) == 2
    assert len(http.calls) == 4


def test_pesapal_refreshes_after_a_401_and_gives_up_on_a_second(http, pesapal, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    add_pesapal_token(http)
    add_status(http, body=fixture_text("pesapal/auth_error.json"), status=401)
    add_pesapal_token(http)
    add_status(http, body=fixture_text("pesapal/auth_error.json"), status=401)

    with pytest.raises(GatewayMisconfigured):
        pesapal.get_transaction_status("t")

    assert len(token_calls(http)) == 2


def test_sandbox_and_live_never_share_a_token(http, pesapal, policy, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    live = PesapalClient(
        base_url="https://pay.pesapal.com/v3",
        consumer_key="test-consumer-key",
        consumer_secret="test-consumer-secret",
        policy=policy,
    )
    add_pesapal_token(http)
    http.post(
        "https://pay.pesapal.com/v3/api/Auth/RequestToken",
        body=fixture_text("pesapal/request_token.json"),
        content_type="application/json",
    )

    pesapal.request_token()
    live.request_token()

    assert len(http.calls) == 2
    assert pesapal.tokens.key != live.tokens.key


def test_two_clients_of_one_account_share_the_cached_token(http, pesapal, policy, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    other_worker = PesapalClient(
        base_url=PESAPAL_BASE,
        consumer_key="test-consumer-key",
        consumer_secret="test-consumer-secret",
        policy=policy,
    )
    add_pesapal_token(http)

    assert pesapal.request_token() == other_worker.request_token() == PESAPAL_TOKEN
    assert len(http.calls) == 1


def test_azampay_token_is_cached_by_data_expire(http, azampay, time_machine):
    time_machine.move_to("2023-03-02T03:21:29Z", tick=False)  # expire is 04:21:29Z
    add_azampay_token(http)
    add_azampay_token(http)

    azampay.request_token()
    time_machine.move_to("2023-03-02T04:20:28Z", tick=False)
    azampay.request_token()
    assert len(http.calls) == 1
    time_machine.move_to("2023-03-02T04:20:30Z", tick=False)
    azampay.request_token()
    assert len(http.calls) == 2


def test_azampay_accepts_expire_at(http, azampay, time_machine):
    time_machine.move_to("2023-03-02T03:21:29Z", tick=False)
    add_azampay_token(http, "azampay/token_expire_at.json")

    azampay.request_token()
    azampay.request_token()

    assert len(http.calls) == 1


def test_azampay_refreshes_once_after_a_401(http, azampay, time_machine):
    time_machine.move_to("2023-03-02T03:21:29Z", tick=False)
    status_url = f"{AZAMPAY_CHECKOUT}/api/v1/partner/gettransactionstatus"
    add_azampay_token(http)
    http.get(status_url, body=fixture_text("azampay/unauthorized_401.json"), status=401)
    add_azampay_token(http)
    http.get(status_url, body=fixture_text("azampay/status_success.json"))

    assert azampay.get_transaction_status("abc", "Mpesa").status == "completed"
    assert len(http.calls) == 4
