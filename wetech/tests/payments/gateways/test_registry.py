import pytest

from wetech.payments.gateways.azampay import get_azampay_client
from wetech.payments.gateways.base import GatewayMisconfigured
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.payments.gateways.pesapal import get_pesapal_client, pesapal_notification_id
from wetech.payments.gateways.registry import gateway_named

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
