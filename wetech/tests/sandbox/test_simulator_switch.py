"""The sandbox app exists only with GATEWAY_SIMULATOR on: installed, routed, and answering."""

import json

import pytest

from sandbox import credentials
from sandbox.testing import simulator_settings
from wetech.tests.conftest import run_django

ROUTES = [
    ("post", "/sandbox/pesapal/api/Auth/RequestToken"),
    ("post", "/sandbox/pesapal/api/URLSetup/RegisterIPN"),
    ("get", "/sandbox/pesapal/api/URLSetup/GetIpnList"),
    ("post", "/sandbox/pesapal/api/Transactions/SubmitOrderRequest"),
    ("get", "/sandbox/pesapal/api/Transactions/GetTransactionStatus"),
    ("post", "/sandbox/pesapal/api/Transactions/RefundRequest"),
    ("post", "/sandbox/pesapal/api/Transactions/CancelOrder"),
    ("get", "/sandbox/pesapal/pay/c8b0e0fb-23f0-44dc-b79b-dd751b446913/"),
    ("post", "/sandbox/pesapal/control/refunds/SIMABC123/approve/"),
    ("post", "/sandbox/azampay/auth/AppRegistration/GenerateToken"),
    ("post", "/sandbox/azampay/checkout/azampay/mno/checkout"),
    ("get", "/sandbox/azampay/checkout/api/v1/partner/gettransactionstatus"),
]
TOKEN_BODY = {
    "consumer_key": credentials.PESAPAL_CONSUMER_KEY,
    "consumer_secret": credentials.PESAPAL_CONSUMER_SECRET,
}


def _ask(client, method, path):
    return getattr(client, method)(
        path,
        data=json.dumps(TOKEN_BODY) if method == "post" else None,
        content_type="application/json",
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_simulator_route_is_404_when_the_simulator_is_off(client, settings, method, path):
    settings.GATEWAY_SIMULATOR = False

    assert _ask(client, method, path).status_code == 404


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_routed_simulator_still_answers_404_once_switched_off(client, settings, method, path):
    for name, value in simulator_settings("http://testserver").items():
        setattr(settings, name, value)
    settings.GATEWAY_SIMULATOR = False

    assert _ask(client, method, path).status_code == 404


def test_the_token_endpoint_answers_when_the_simulator_is_on(client, settings):
    for name, value in simulator_settings("http://testserver").items():
        setattr(settings, name, value)

    response = client.post(
        "/sandbox/pesapal/api/Auth/RequestToken", data=TOKEN_BODY, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "200"
    assert response.json()["expiryDate"].endswith("Z")


SHOW = (
    "import json\n"
    "from django.conf import settings as s\n"
    "from django.urls import Resolver404, resolve\n"
    "try:\n"
    "    routed = resolve('/sandbox/pesapal/api/Auth/RequestToken').namespace == 'sandbox'\n"
    "except Resolver404:\n"
    "    routed = False\n"
    "print(json.dumps({'installed': 'sandbox' in s.INSTALLED_APPS, 'routed': routed,\n"
    "    'key': s.PESAPAL_CONSUMER_KEY, 'base': s.PESAPAL_BASE_URL,\n"
    "    'callback_secret': s.AZAMPAY_CALLBACK_SECRET}))"
)
REAL_KEYS = {
    "SITE_URL": "http://127.0.0.1:8000",
    "PESAPAL_CONSUMER_KEY": "a-real-sandbox-key",
    "PESAPAL_BASE_URL": "https://cybqa.pesapal.com/pesapalv3",
    "AZAMPAY_CALLBACK_SECRET": "a-real-callback-secret-0123456789abcdef",
}


def _started_with(env) -> dict:
    result = run_django("shell", "-c", SHOW, env={"DEBUG": "true", **REAL_KEYS, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_site_started_without_the_simulator_neither_installs_nor_routes_it():
    site = _started_with({"GATEWAY_SIMULATOR": None})

    assert site == {
        "installed": False,
        "routed": False,
        "key": "a-real-sandbox-key",
        "base": "https://cybqa.pesapal.com/pesapalv3",
        "callback_secret": "a-real-callback-secret-0123456789abcdef",
    }


def test_make_run_installs_routes_and_uses_the_simulators_own_credentials():
    site = _started_with({"GATEWAY_SIMULATOR": "true"})

    assert site == {
        "installed": True,
        "routed": True,
        "key": credentials.PESAPAL_CONSUMER_KEY,
        "base": "http://127.0.0.1:8000/sandbox/pesapal",
        "callback_secret": credentials.AZAMPAY_CALLBACK_SECRET,
    }
