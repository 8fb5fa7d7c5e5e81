"""Bodies over `DATA_UPLOAD_MAX_MEMORY_SIZE` are refused with a 400, never a 500, and change
nothing; the limit itself still lets the biggest honest request through.

The biggest honest body is a lead with a 5,000-character message, sent form-encoded as browsers
do: every non-ASCII byte becomes `%XX`, so 5,000 four-byte characters (emoji) weigh 60,000 bytes
and the whole lead about 60.5 KB, under the 64 KiB default.
"""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings

from wetech.models import Client, GatewayNotification, Invoice, Lead, LedgerEntry, PaymentAttempt
from wetech.payments.start import payment_start
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.payment_helpers import configure_gateways, install_fakes, issued_invoice

pytestmark = pytest.mark.django_db

SERVICE_URL = "/services/business-website/"
SECRET = "simulator-callback-secret-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def service():
    return make_service(price=Decimal("350000"))


@pytest.fixture
def attempts(settings, monkeypatch):
    configure_gateways(settings)
    install_fakes(monkeypatch)
    invoice = issued_invoice()
    return (
        payment_start(invoice=invoice, gateway="pesapal").attempt,
        payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt,
    )


def _too_big() -> int:
    return django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1


def _money_state():
    return (
        list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
    )


def test_the_limit_is_64_kib_and_fits_the_biggest_honest_lead(client, service):
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024
    data = lead_post(client, SERVICE_URL, service=service.slug, message="🙂" * 5000)
    body = urlencode(data)
    assert len(body.encode()) > 60_000
    response = client.post("/leads/", body, content_type=FORM)
    assert response.status_code == 303
    assert len(Lead.objects.get().message) == 5000


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_an_oversized_lead_is_a_400_and_saves_nothing(client, service, encoding, as_json):
    data = lead_post(client, SERVICE_URL, service=service.slug, message="a" * _too_big())
    extra = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    if encoding == "form":
        response = client.post("/leads/", urlencode(data), content_type=FORM, **extra)
    else:
        response = client.post("/leads/", data, **extra)
    assert response.status_code == 400
    if as_json:
        assert response.json()["error"]["code"] == "bad_request"
    else:
        assert "We could not understand that request." in response.content.decode()
    assert (Client.objects.count(), Lead.objects.count(), Invoice.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_an_oversized_pesapal_ipn_is_a_400_and_changes_nothing(client, attempts, content_type):
    pesapal, _ = attempts
    fields = {"OrderTrackingId": pesapal.gateway_reference, "Padding": "x" * _too_big()}
    body = json.dumps(fields) if content_type == "application/json" else urlencode(fields)
    before = _money_state()
    response = client.generic("POST", "/payments/pesapal/ipn/", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert _money_state() == before
    # The inbox still notes that something arrived, without the body.
    notification = GatewayNotification.objects.get()
    assert (notification.result, notification.body) == ("rejected", "")


def test_an_oversized_azampay_callback_is_a_400_and_changes_nothing(client, attempts):
    _, azampay = attempts
    body = json.dumps(
        {
            "utilityref": azampay.merchant_reference,
            "transactionstatus": "success",
            "amount": str(int(azampay.amount)),
            "message": "x" * _too_big(),
        }
    )
    before = _money_state()
    response = client.post(
        f"/payments/azampay/callback/{SECRET}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert _money_state() == before
    notification = GatewayNotification.objects.get()
    assert (notification.result, notification.body) == ("rejected", "")
