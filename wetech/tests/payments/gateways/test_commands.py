from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from wetech.payments.gateways.pesapal import pesapal_notification_id

from .conftest import PESAPAL_BASE, add_pesapal_token, fixture_text


@pytest.fixture
def pesapal_settings(settings, time_machine):
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)
    settings.PESAPAL_BASE_URL = PESAPAL_BASE
    settings.PESAPAL_CONSUMER_KEY = "test-consumer-key"
    settings.PESAPAL_CONSUMER_SECRET = "test-consumer-secret"
    settings.PESAPAL_IPN_ID = ""
    settings.SITE_URL = "https://wetech.example"
    return settings


def test_pesapal_register_ipn_prints_the_id_and_remembers_it(http, pesapal_settings):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list_empty.json"),
        content_type="application/json",
    )
    register = http.post(
        f"{PESAPAL_BASE}/api/URLSetup/RegisterIPN",
        body=fixture_text("pesapal/register_ipn.json"),
        content_type="application/json",
    )
    out = StringIO()

    call_command("pesapal_register_ipn", stdout=out)

    assert out.getvalue().strip() == "608fe0d3-4901-47e9-a2cb-dd754940a155"
    assert (
        b'"url": "https://wetech.example/payments/pesapal/ipn/"' in register.calls[0].request.body
    )
    assert pesapal_notification_id() == "608fe0d3-4901-47e9-a2cb-dd754940a155"  # no new call


def test_pesapal_register_ipn_fails_with_one_line(http, pesapal_settings):
    add_pesapal_token(http, "pesapal/request_token_invalid.json")

    with pytest.raises(CommandError) as caught:
        call_command("pesapal_register_ipn")

    assert "\n" not in str(caught.value)
    assert "invalid_consumer_key_or_secret_provided" in str(caught.value)


def test_pesapal_register_ipn_names_missing_settings(settings):
    settings.PESAPAL_CONSUMER_KEY = ""
    settings.PESAPAL_CONSUMER_SECRET = ""

    with pytest.raises(CommandError, match="PESAPAL_CONSUMER_KEY, PESAPAL_CONSUMER_SECRET"):
        call_command("pesapal_register_ipn")
