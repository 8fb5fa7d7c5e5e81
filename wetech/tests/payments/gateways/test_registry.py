from decimal import Decimal

import pytest

from wetech.payments.gateways.azampay import get_azampay_client
from wetech.payments.gateways.base import GatewayMisconfigured
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.payments.gateways.pesapal import get_pesapal_client, pesapal_notification_id
from wetech.payments.gateways.registry import (
    UnknownGateway,
    configured_gateways,
    gateway_named,
    register_gateway,
)

from .conftest import PESAPAL_BASE, add_pesapal_token, fixture_text


def pesapal_configured() -> bool:
    return gateway_named("pesapal").is_configured()


def azampay_configured() -> bool:
    return gateway_named("azampay").is_configured()


@pytest.fixture
def pesapal_settings(settings):
    settings.PESAPAL_BASE_URL = PESAPAL_BASE
    settings.PESAPAL_CONSUMER_KEY = "test-consumer-key"
    settings.PESAPAL_CONSUMER_SECRET = "test-consumer-secret"
    settings.PESAPAL_IPN_ID = ""
    settings.SITE_URL = "https://wetech.example"
    return settings


def test_missing_settings_are_all_named(settings):
    settings.PESAPAL_CONSUMER_KEY = ""
    settings.PESAPAL_CONSUMER_SECRET = ""

    assert not pesapal_configured()
    with pytest.raises(GatewayMisconfigured) as caught:
        get_pesapal_client()

    assert "PESAPAL_CONSUMER_KEY" in str(caught.value)
    assert "PESAPAL_CONSUMER_SECRET" in str(caught.value)


def test_azampay_names_every_missing_setting(settings):
    settings.AZAMPAY_CLIENT_ID = "id"
    settings.AZAMPAY_API_KEY = "key"
    for name in ("AZAMPAY_APP_NAME", "AZAMPAY_CLIENT_SECRET", "AZAMPAY_CALLBACK_SECRET"):
        setattr(settings, name, "")

    assert not azampay_configured()
    with pytest.raises(GatewayMisconfigured) as caught:
        get_azampay_client()

    assert str(caught.value) == (
        "azampay is not configured: set AZAMPAY_APP_NAME, AZAMPAY_CLIENT_SECRET, "
        "AZAMPAY_CALLBACK_SECRET"
    )


def test_clients_are_cached_per_process_and_built_from_settings(pesapal_settings):
    client = get_pesapal_client()

    assert pesapal_configured()
    assert get_pesapal_client() is client
    assert client.base_url == PESAPAL_BASE
    assert client.transport.connect_timeout == pesapal_settings.GATEWAY_CONNECT_TIMEOUT
    assert client.transport.breaker.name == "pesapal"

    reset_gateway_clients()
    assert get_pesapal_client() is not client


def test_changing_a_gateway_setting_builds_a_new_client(pesapal_settings):
    client = get_pesapal_client()

    pesapal_settings.PESAPAL_BASE_URL = "https://pay.pesapal.com/v3"

    assert get_pesapal_client() is not client
    assert get_pesapal_client().base_url == "https://pay.pesapal.com/v3"


def test_azampay_client_from_settings(settings):
    settings.AZAMPAY_APP_NAME = "wetech"
    settings.AZAMPAY_CLIENT_ID = "id"
    settings.AZAMPAY_CLIENT_SECRET = "secret"
    settings.AZAMPAY_API_KEY = "key"
    settings.AZAMPAY_CALLBACK_SECRET = "callback-secret-of-at-least-32-characters"
    settings.AZAMPAY_STATUS_QUERY = False

    client = get_azampay_client()

    assert azampay_configured()
    assert client.status_query is False
    assert client.request_origin == settings.SITE_URL


def test_notification_id_prefers_the_setting(pesapal_settings):
    pesapal_settings.PESAPAL_IPN_ID = "from-settings"

    assert pesapal_notification_id() == "from-settings"


def test_notification_id_is_registered_once_then_cached(http, pesapal_settings, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list.json"),
        content_type="application/json",
    )

    assert pesapal_notification_id() == "608fe0d3-4901-47e9-a2cb-dd754940a155"
    assert pesapal_notification_id() == "608fe0d3-4901-47e9-a2cb-dd754940a155"

    assert len(http.calls) == 2  # token + list, once


def test_the_site_registers_pesapal_and_azampay_by_name():
    pesapal, azampay = gateway_named("pesapal"), gateway_named("azampay")
    assert (pesapal.label, pesapal.push_to_phone, pesapal.pending_after_unknown_start) == (
        "Pesapal",
        False,
        False,
    )
    assert (azampay.label, azampay.push_to_phone, azampay.pending_after_unknown_start) == (
        "AzamPay",
        True,
        True,
    )


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(UnknownGateway, match="no payment gateway named 'selcom'"):
        gateway_named("selcom")


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        register_gateway(gateway_named("pesapal"))


def test_configured_gateways_are_the_ones_whose_settings_are_set(settings):
    settings.PESAPAL_CONSUMER_KEY = ""
    settings.AZAMPAY_APP_NAME = "wetech"
    settings.AZAMPAY_CLIENT_ID = "id"
    settings.AZAMPAY_CLIENT_SECRET = "secret"
    settings.AZAMPAY_API_KEY = "key"
    settings.AZAMPAY_CALLBACK_SECRET = "callback-secret-of-at-least-32-characters"

    assert [gateway.name for gateway in configured_gateways()] == ["azampay"]


@pytest.mark.parametrize(
    ("currency", "total", "accepted"),
    [
        ("TZS", Decimal("413000.00"), True),
        ("TZS", Decimal("0.30"), False),
        ("USD", Decimal("100"), False),
    ],
)
def test_azampay_accepts_whole_shillings_only(currency, total, accepted):
    assert gateway_named("azampay").accepts(currency=currency, total=total) is accepted
    assert gateway_named("pesapal").accepts(currency=currency, total=total) is True
