"""Neither gateway's API takes a language: a Kiswahili customer's payment sends none.

Through the real pipeline (payment_start) and the real clients, every outbound request body is
read as the gateway receives it: the documented keys and nothing else. Only the order's
description, which Pesapal's page shows the payer, is in the invoice's language.
"""

import json

import pytest
from django.utils import translation

from wetech.payments.start import payment_start
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

from .conftest import fixture_text

pytestmark = pytest.mark.django_db

GATEWAYS = "https://gateways.test"
PESAPAL_ORDER_KEYS = {
    "id",
    "currency",
    "amount",
    "description",
    "callback_url",
    "notification_id",
    "billing_address",
}
BILLING_KEYS = {
    "email_address",
    "phone_number",
    "country_code",
    "first_name",
    "middle_name",
    "last_name",
    "line_1",
    "line_2",
    "city",
    "state",
    "postal_code",
    "zip_code",
}


def _keys(value) -> set[str]:
    """Every key of a JSON document, however deep."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


def _sent(http, path: str) -> dict:
    [call] = [call for call in http.calls if call.request.url.endswith(path)]
    return json.loads(call.request.body)


@pytest.mark.parametrize("active", ["sw", "en"])
def test_a_kiswahili_invoice_is_paid_without_sending_a_language(settings, http, active):
    configure_gateways(settings, GATEWAYS, PESAPAL_IPN_ID="ipn-registered-once")
    pesapal, azampay = settings.PESAPAL_BASE_URL, settings.AZAMPAY_CHECKOUT_URL
    http.post(f"{pesapal}/api/Auth/RequestToken", body=fixture_text("pesapal/request_token.json"))
    http.post(
        f"{pesapal}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order.json"),
    )
    http.post(
        f"{settings.AZAMPAY_AUTH_URL}/AppRegistration/GenerateToken",
        body=fixture_text("azampay/token.json"),
    )
    http.post(f"{azampay}/azampay/mno/checkout", body=fixture_text("azampay/mno_checkout.json"))
    invoice = issued_invoice(language="sw")

    with translation.override(active):
        payment_start(invoice=invoice, gateway="pesapal")
        payment_start(invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa")

    order = _sent(http, "/api/Transactions/SubmitOrderRequest")
    assert set(order) == PESAPAL_ORDER_KEYS
    assert set(order["billing_address"]) == BILLING_KEYS
    assert order["description"] == f"Ankara ya WeTech {invoice.number}"
    assert order["callback_url"].endswith("/payments/pesapal/callback/")
    assert "/sw/" not in order["callback_url"]
    push = _sent(http, "/azampay/mno/checkout")
    assert set(push) == {"accountNumber", "amount", "currency", "externalId", "provider"}
    every_key = {key.lower() for call in http.calls for key in _keys(json.loads(call.request.body))}
    assert not {key for key in every_key if "lang" in key or "locale" in key}
