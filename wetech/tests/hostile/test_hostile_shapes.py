"""Hostile shapes, each sent where it hurts: a clear 4xx (or the field dropped), never a 500, and
a gateway message that cannot be read is still recorded (sanitised) before it is refused.

Shapes: JSON nested deep enough for `json.loads` to raise RecursionError (it still fits in a
64 KiB body), lone surrogates (`\\ud800`, which neither UTF-8 nor PostgreSQL accept), invalid
UTF-8 in bodies, query strings and headers, malformed URLs in the lead form's tracking fields,
and huge headers.
"""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from wetech.models import Client, GatewayNotification, Invoice, Lead, LedgerEntry, PaymentAttempt
from wetech.payments.start import payment_start
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

pytestmark = pytest.mark.django_db

SECRET = "simulator-callback-secret-0123456789abcdef"
AZAMPAY_URL = f"/payments/azampay/callback/{SECRET}/"
IPN_URL = "/payments/pesapal/ipn/"
SERVICE_URL = "/services/business-website/"
# 30,000 levels: json.loads raises RecursionError, and 60 KB is under the 64 KiB body limit.
NESTED = b"[" * 30_000 + b"]" * 30_000


@pytest.fixture
def attempts(fakes):
    invoice = issued_invoice()
    return (
        payment_start(invoice=invoice, gateway="pesapal").attempt,
        payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt,
    )


@pytest.fixture
def service():
    return make_service(price=Decimal("350000"))


def _money_state():
    return (
        list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
    )


def _unstorable(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


# --- Deeply nested JSON at the callbacks ----------------------------------------------------------


@pytest.mark.parametrize("url", [IPN_URL, AZAMPAY_URL])
@pytest.mark.parametrize("body", [NESTED, b'{"OrderTrackingId": ' + b'{"a": ' * 10_000])
def test_deeply_nested_json_is_recorded_then_refused_with_a_400(client, attempts, url, body):
    before = _money_state()
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["detail"] == "the JSON nests deeper than 32 levels"
    assert _money_state() == before
    notification = GatewayNotification.objects.get()
    assert notification.result == GatewayNotification.Result.REJECTED
    assert notification.error == "the JSON nests deeper than 32 levels"
    # What arrived is kept (up to the inbox's cap) for whoever looks into it.
    # Kept as received up to the inbox's cap, the cut marked.
    assert len(notification.body) <= GatewayNotification.MAX_BODY_CHARS
    assert notification.body.endswith(GatewayNotification.TRUNCATION_MARK)
    assert body.decode().startswith(
        notification.body.removesuffix(GatewayNotification.TRUNCATION_MARK)
    )


def test_an_unparseable_callback_is_recorded_sanitised_before_its_400(client, attempts):
    _, azampay = attempts
    body = (
        b'{"utilityref": "' + azampay.merchant_reference.encode() + b'", "transactionstatus": '
        b'"success", "message": "nul \x00 bad \xff\xfe", "x": ' + b"[" * 5000
    )
    before = _money_state()
    response = client.post(AZAMPAY_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert _money_state() == before
    notification = GatewayNotification.objects.get()
    assert notification.result == GatewayNotification.Result.REJECTED
    assert notification.attempt is None
    assert 'nul \ufffd bad \ufffd\ufffd", "x": [[[' in notification.body
    assert not _unstorable(notification.body)


# --- Lone surrogates ------------------------------------------------------------------------------


def test_lone_surrogates_in_a_pesapal_ipn_are_stored_replaced_and_the_order_is_unknown(
    client, attempts, pesapal
):
    pesapal_attempt, _ = attempts
    body = json.dumps(
        {
            "OrderTrackingId": pesapal_attempt.gateway_reference + "\ud800",
            "OrderNotificationType": "IPNCHANGE",
            "\udfffExtra": "\udbff",
        }
    )
    before = _money_state()
    response = client.post(IPN_URL, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["orderTrackingId"] == pesapal_attempt.gateway_reference + "\ufffd"
    assert _money_state() == before
    assert pesapal.status_calls == []
    notification = GatewayNotification.objects.get()
    assert notification.result == GatewayNotification.Result.IGNORED
    stored = json.loads(notification.body)
    assert stored["\ufffdExtra"] == "\ufffd"
    assert not _unstorable(notification.body)


def test_a_lone_surrogate_in_a_free_text_field_does_not_stop_a_real_payment(client, attempts):
    _, azampay = attempts
    body = json.dumps(azampay_callback_body(azampay, message="Umelipa \ud83d vizuri"))
    assert "\\ud83d" in body
    response = client.post(AZAMPAY_URL, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["result"] == "applied"
    azampay.refresh_from_db()
    assert azampay.status == PaymentAttempt.Status.COMPLETED
    assert azampay.invoice.status == Invoice.Status.PAID
    notification = GatewayNotification.objects.get()
    assert json.loads(notification.body)["message"] == "Umelipa \ufffd vizuri"


def test_a_lone_surrogate_in_the_reference_of_a_callback_matches_nothing(client, attempts):
    _, azampay = attempts
    body = json.dumps(
        azampay_callback_body(azampay, utilityref=azampay.merchant_reference + "\udc00")
    )
    before = _money_state()
    response = client.post(AZAMPAY_URL, body, content_type="application/json")
    assert (response.status_code, response.json()["result"]) == (200, "ignored")
    assert _money_state() == before


# --- Invalid UTF-8 and huge headers at the callbacks ----------------------------------------------


def test_invalid_utf8_in_the_query_string_body_and_headers_of_an_ipn_is_no_500(client, attempts):
    responses = [
        client.get(IPN_URL, QUERY_STRING="OrderTrackingId=%ff%fe&OrderMerchantReference=\xff"),
        client.post(
            IPN_URL,
            b"OrderTrackingId=\xff%fe&OrderNotificationType=IPN\xc3",
            content_type="application/x-www-form-urlencoded",
        ),
        client.post(IPN_URL, b'{"OrderTrackingId": "\xff\xfe"}', content_type="application/json"),
        # WSGI hands header bytes over as latin-1, so invalid UTF-8 arrives as these characters.
        client.get(
            IPN_URL,
            QUERY_STRING="OrderTrackingId=x",
            HTTP_USER_AGENT="\xff\xfe\xc3",
            HTTP_X_FORWARDED_FOR="\xff, 1.2.3.4",
            HTTP_X_REQUEST_ID="\xff" * 10,
        ),
    ]
    assert [response.status_code for response in responses] == [200, 200, 200, 200]
    rows = GatewayNotification.objects.order_by("pk")
    assert [row.result for row in rows] == ["ignored"] * 4
    assert all(not _unstorable(row.body + row.query_string + str(row.headers)) for row in rows)


def test_huge_headers_at_a_callback_are_no_500(client, attempts):
    response = client.get(
        IPN_URL,
        QUERY_STRING="OrderTrackingId=unknown",
        HTTP_USER_AGENT="u" * 1_000_000,
        HTTP_X_FORWARDED_FOR="203.0.113.9, " * 50_000,
        HTTP_X_PESAPAL_SIGNATURE="s" * 100_000,
    )
    assert response.status_code == 200
    assert GatewayNotification.objects.get().result == GatewayNotification.Result.IGNORED


# --- The lead form's tracking fields --------------------------------------------------------------

MALFORMED_URLS = [
    "http://[::1",
    "http://%zz",
    "http://%zz/path?q=1",
    "http://example.com:port/",
    "http://1.2.3.4:99999/",
    "https://exa mple.com/",
    "javascript:alert(1)",
    "//evil.example/",
    "http:///no-host",
]


@pytest.mark.parametrize("bad", MALFORMED_URLS)
@pytest.mark.parametrize("as_json", [False, True])
def test_a_malformed_landing_page_or_referrer_is_dropped_and_the_lead_saved(
    client, service, bad, as_json
):
    data = lead_post(client, SERVICE_URL, service=service.slug)
    data.update(landing_page=bad, referrer=bad, utm_source=bad, utm_campaign=bad)
    extra = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    response = client.post("/leads/", data, **extra)
    assert response.status_code == (201 if as_json else 303)
    lead = Lead.objects.get()
    assert (lead.landing_page, lead.referrer, lead.source_page) == ("", "", "")
    # UTM values are free text, never parsed as URLs: kept as sent (on one line).
    assert (lead.utm_source, lead.utm_campaign) == (bad, bad)


def test_well_formed_tracking_urls_are_kept(client, service):
    data = lead_post(client, SERVICE_URL, service=service.slug)
    data.update(
        landing_page="/services/business-website/?utm_source=x",
        referrer="https://www.google.com/search?q=wetech",
    )
    assert client.post("/leads/", data).status_code == 303
    lead = Lead.objects.get()
    assert lead.landing_page == "/services/business-website/?utm_source=x"
    assert lead.source_page == "/services/business-website/"
    assert lead.referrer == "https://www.google.com/search?q=wetech"


def test_a_forged_referer_header_on_the_page_never_blocks_the_lead(client, service):
    """The page copies the Referer header into a hidden field; posting it back must pass."""
    data = lead_post(client, SERVICE_URL, service=service.slug)
    page = client.get(SERVICE_URL, HTTP_REFERER="http://[::1/forged", QUERY_STRING="utm_source=a")
    assert page.status_code == 200
    assert 'value="http://[::1/forged"' in page.content.decode()
    data.update(referrer="http://[::1/forged")
    assert client.post("/leads/", data).status_code == 303
    assert Lead.objects.get().referrer == ""


@pytest.mark.parametrize("field, limit", [("landing_page", 500), ("referrer", 500)])
def test_a_very_long_tracking_url_is_a_clear_400_and_saves_nothing(client, service, field, limit):
    data = lead_post(client, SERVICE_URL, service=service.slug)
    data[field] = "https://example.com/" + "a" * limit
    response = client.post("/leads/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]
    assert (Client.objects.count(), Lead.objects.count(), Invoice.objects.count()) == (0, 0, 0)


def test_invalid_utf8_in_a_lead_body_is_replaced_not_a_500(client, service):
    data = lead_post(client, SERVICE_URL, service=service.slug)
    body = urlencode(data).encode() + b"&company=Mwinyi%ff%fe&utm_source=%ed%a0%80"
    response = client.generic(
        "POST", "/leads/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 303
    lead = Lead.objects.get()
    assert lead.company == "Mwinyi\ufffd\ufffd"
    assert not _unstorable(lead.utm_source)


# --- Pages: invalid UTF-8 and huge headers --------------------------------------------------------


@pytest.mark.parametrize("path", ["/", SERVICE_URL, "/contact/", "/leads/thanks/"])
def test_pages_survive_invalid_utf8_and_huge_headers(client, service, path):
    responses = [
        client.get(path, QUERY_STRING="utm_source=%ff%fe&utm_medium=\xff&utm_term=%ed%a0%80"),
        client.get(path, HTTP_REFERER="http://[::1\xff", HTTP_COOKIE="csrftoken=\xff\xfe"),
        client.get(path, HTTP_USER_AGENT="u" * 1_000_000, HTTP_REFERER="r" * 100_000),
        client.get(path, **{f"HTTP_X_HEADER_{n}": "x" * 100 for n in range(2000)}),
    ]
    assert [response.status_code for response in responses] == [200] * 4
