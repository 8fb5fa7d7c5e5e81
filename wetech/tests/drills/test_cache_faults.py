"""Fault drill: Redis is down. Pages, leads, payments and callbacks carry on.

The cache is Django's real Redis backend pointed at a closed loopback port, so every cache call
fails the way it does in production when Redis stops (connection refused). Rate limits let
requests through (a warning at most once a minute), gateway tokens are fetched afresh for every
call, the circuit breakers read as closed, `/health/` reports the cache as failing and
`/health/ready/` stays 200 with a warning, so a load balancer keeps every node. Before this,
every rate-limited view answered 500.

The gateways are the real clients behind `responses`.
"""

import json
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from wetech import ratelimit
from wetech.models import GatewayNotification, Invoice, Lead, LedgerEntry, PaymentAttempt
from wetech.payments.gateways.retry import breaker_states
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

pytestmark = [pytest.mark.django_db, pytest.mark.db_independent]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PESAPAL = "https://pesapal.drill/pesapalv3"
AZAMPAY_AUTH = "https://authenticator.azampay.drill"
AZAMPAY_CHECKOUT = "https://checkout.azampay.drill"
SECRET = "simulator-callback-secret-0123456789abcdef"
SERVICE_URL = "/services/business-website/"
# Nothing listens on port 1: every connection is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "wetech.cache.PooledRedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.REDIS_URL = DEAD_REDIS
    settings.RATELIMIT_ENABLE = True
    monkeypatch.setattr(ratelimit, "_warned_at", None)
    with pytest.raises(Exception, match="Connection refused"):
        cache.get("anything")


@pytest.fixture
def gateways(settings):
    configure_gateways(
        settings,
        GATEWAY_SIMULATOR=False,
        PESAPAL_BASE_URL=PESAPAL,
        PESAPAL_IPN_ID="ipn-drill-0001",
        AZAMPAY_AUTH_URL=AZAMPAY_AUTH,
        AZAMPAY_CHECKOUT_URL=AZAMPAY_CHECKOUT,
        AZAMPAY_STATUS_QUERY=False,
    )
    in_an_hour = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pesapal_token = json.loads((FIXTURES / "pesapal/request_token.json").read_text())
    pesapal_token["expiryDate"] = in_an_hour
    azampay_token = json.loads((FIXTURES / "azampay/token.json").read_text())
    azampay_token["data"]["expire"] = in_an_hour
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # Tokens valid for an hour: with a working cache each would be fetched once.
        mock.post(f"{PESAPAL}/api/Auth/RequestToken", json=pesapal_token)
        mock.post(f"{AZAMPAY_AUTH}/AppRegistration/GenerateToken", json=azampay_token)
        mock.add_callback(
            responses.POST, f"{PESAPAL}/api/Transactions/SubmitOrderRequest", _order_answer
        )
        mock.post(
            f"{AZAMPAY_CHECKOUT}/azampay/mno/checkout",
            body=(FIXTURES / "azampay/mno_checkout.json").read_text(),
            content_type="application/json",
        )
        yield mock


def _order_answer(request):
    sent = json.loads(request.body)
    body = json.loads((FIXTURES / "pesapal/submit_order.json").read_text())
    body["merchant_reference"] = sent["id"]
    body["order_tracking_id"] = f"tracking-{sent['id']}"
    return 200, {}, json.dumps(body)


def _calls(mock, suffix) -> int:
    return sum(1 for call in mock.calls if urlsplit(call.request.url).path.endswith(suffix))


def _cache_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "wetech.ratelimit" and record.levelno == logging.WARNING
    ]


def test_pages_answer(client, redis_down):
    make_service(slug="business-website")
    assert client.get("/").status_code == 200
    assert client.get(SERVICE_URL).status_code == 200
    assert client.get("/contact/").status_code == 200


def test_leads_are_saved_unlimited_with_one_warning(client, redis_down, settings, caplog):
    settings.LEADS_RATE_LIMIT = "1/m"
    service = make_service(price=Decimal("350000"), slug="business-website")
    caplog.set_level(logging.WARNING, logger="wetech.ratelimit")
    statuses = []
    for n in range(3):
        data = lead_post(client, SERVICE_URL, service=service.slug, email=f"a{n}@example.co.tz")
        statuses.append(client.post("/leads/", data).status_code)
    json_client = client.post(
        "/leads/",
        lead_post(client, SERVICE_URL, service=service.slug, email="json@example.co.tz"),
        HTTP_ACCEPT="application/json",
    )
    # Over a limit of 1 a minute, and still saved: the limit cannot count without its cache.
    assert statuses == [303, 303, 303]
    assert json_client.status_code == 201
    assert Lead.objects.count() == 4
    assert Invoice.objects.count() == 4
    # Said once, not on every request.
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1
    assert "not applied: the cache is unavailable (ConnectionError)" in warnings[0]


def test_the_warning_comes_back_after_a_minute(client, redis_down, caplog):
    caplog.set_level(logging.WARNING, logger="wetech.ratelimit")
    invoice = issued_invoice()
    url = f"/invoices/{invoice.token}/status/"
    ipn = "/payments/pesapal/ipn/?OrderTrackingId=unknown"
    assert client.get(ipn).status_code == 200
    assert client.get(ipn).status_code == 200
    assert len(_cache_warnings(caplog)) == 1
    ratelimit._warned_at -= ratelimit.WARN_EVERY_SECONDS
    assert client.get(ipn).status_code == 200
    assert client.get(url).status_code == 200
    assert len(_cache_warnings(caplog)) == 2


def test_pay_views_start_payments_with_tokens_fetched_afresh(client, redis_down, gateways):
    first, second = issued_invoice(), issued_invoice(email="juma@example.co.tz")
    pesapal = client.post(f"/invoices/{first.token}/pay/pesapal/")
    azampay = client.post(
        f"/invoices/{second.token}/pay/azampay/", {"phone": "0712345678", "provider": "Mpesa"}
    )
    again = client.post(
        f"/invoices/{second.token}/pay/pesapal/", HTTP_ACCEPT="text/html,application/json"
    )
    assert (pesapal.status_code, azampay.status_code, again.status_code) == (303, 303, 303)
    assert pesapal["Location"].startswith("https://")
    assert _calls(gateways, "/SubmitOrderRequest") == 2
    assert _calls(gateways, "/azampay/mno/checkout") == 1
    # Each Pesapal call asked for a token of its own: there is nowhere to keep one.
    assert _calls(gateways, "/api/Auth/RequestToken") == 2
    assert _calls(gateways, "/AppRegistration/GenerateToken") == 1
    assert PaymentAttempt.objects.filter(status=PaymentAttempt.Status.PENDING).count() == 3


def test_callbacks_settle_payments(client, redis_down, gateways, settings):
    settings.CALLBACK_RATE_LIMIT = "1/m"
    first, second = issued_invoice(), issued_invoice(email="juma@example.co.tz")
    client.post(f"/invoices/{first.token}/pay/pesapal/")
    client.post(
        f"/invoices/{second.token}/pay/azampay/", {"phone": "0712345678", "provider": "Mpesa"}
    )
    pesapal = PaymentAttempt.objects.get(gateway="pesapal")
    azampay = PaymentAttempt.objects.get(gateway="azampay")
    status = json.loads((FIXTURES / "pesapal/status_completed.json").read_text())
    status.update(
        order_tracking_id=pesapal.gateway_reference,
        merchant_reference=pesapal.merchant_reference,
        amount=float(pesapal.amount),
        currency=pesapal.currency,
    )
    gateways.get(f"{PESAPAL}/api/Transactions/GetTransactionStatus", json=status)

    # Pesapal's IPN, twice (a retry): over the 1/m callback limit, never refused for it.
    query = (
        f"OrderTrackingId={pesapal.gateway_reference}"
        f"&OrderMerchantReference={pesapal.merchant_reference}&OrderNotificationType=IPNCHANGE"
    )
    ipn = [client.get("/payments/pesapal/ipn/", QUERY_STRING=query) for _ in range(2)]
    assert [response.status_code for response in ipn] == [200, 200]
    assert [response.json()["status"] for response in ipn] == [200, 200]
    # The browser coming back, and AzamPay's callback.
    back = client.get("/payments/pesapal/callback/", QUERY_STRING=query)
    assert (back.status_code, back["Location"]) == (303, f"/invoices/{first.token}/")
    callback = client.post(
        f"/payments/azampay/callback/{SECRET}/",
        json.dumps(
            {
                "message": "success",
                "transactionstatus": "success",
                "operator": "Mpesa",
                "reference": azampay.gateway_reference,
                "utilityref": azampay.merchant_reference,
                "amount": str(int(azampay.amount)),
                "msisdn": "255712345678",
                "mnoreference": "MNO12345",
            }
        ),
        content_type="application/json",
    )
    assert (callback.status_code, callback.json()["result"]) == (200, "applied")

    for attempt in (pesapal, azampay):
        attempt.refresh_from_db()
        assert attempt.status == PaymentAttempt.Status.COMPLETED
        assert attempt.invoice.status == Invoice.Status.PAID
    assert LedgerEntry.objects.count() == 2
    assert GatewayNotification.objects.count() == 4
    # Every Pesapal call (the order, each status query) carried a token fetched for it.
    assert _calls(gateways, "/GetTransactionStatus") >= 1
    assert _calls(gateways, "/api/Auth/RequestToken") == _calls(
        gateways, "/SubmitOrderRequest"
    ) + _calls(gateways, "/GetTransactionStatus")


def test_breakers_read_as_closed(redis_down):
    assert breaker_states() == {"pesapal": "closed", "azampay": "closed"}


def test_health_reports_the_cache_failing_and_readiness_warns(client, redis_down, settings):
    settings.HEALTH_TOKEN = "health-token-for-the-drill-0123456789"
    full = client.get("/health/", HTTP_X_HEALTH_TOKEN=settings.HEALTH_TOKEN)
    ready = client.get("/health/ready/", HTTP_X_HEALTH_TOKEN=settings.HEALTH_TOKEN)

    assert full.status_code == 503
    cache_check = full.json()["checks"]["cache:responseTime"][0]
    assert cache_check["status"] == "fail"
    assert "Connection refused" in cache_check["output"]
    assert full.json()["checks"]["pesapal:circuit"][0]["status"] == "pass"

    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "warn"
    assert body["checks"]["cache:responseTime"][0]["status"] == "warn"
    assert "Connection refused" in body["checks"]["cache:responseTime"][0]["output"]
    assert body["checks"]["database:responseTime"][0]["status"] == "pass"
