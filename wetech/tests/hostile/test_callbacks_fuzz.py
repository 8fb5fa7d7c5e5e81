"""Hostile input at the gateway callbacks: never a 500; malformed is a 400 with its inbox row kept;
nothing else is written.

The real Pesapal client runs against `responses` (token and GetTransactionStatus, which say
"pending" for our order), so a fuzzed message that names our order reaches the status endpoint
the way a forged one would in production, and still changes nothing.
"""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
import responses
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.payments.start import payment_start
from wetech.tests.payment_helpers import configure_gateways, install_fakes, issued_invoice

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "simulator-callback-secret-0123456789abcdef"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PESAPAL_KEYS = ["OrderTrackingId", "OrderMerchantReference", "OrderNotificationType"]
AZAMPAY_KEYS = [
    "message",
    "transactionstatus",
    "operator",
    "reference",
    "externalreference",
    "transid",
    "utilityref",
    "amount",
    "msisdn",
    "mnoreference",
    "additionalProperties",
]
_text = st.text(max_size=120)
_long_text = st.text(min_size=1000, max_size=5000)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def orders(settings, monkeypatch):
    """One pending Pesapal and one pending AzamPay attempt, then the real clients behind
    `responses`."""
    configure_gateways(settings, PESAPAL_IPN_ID="ipn-fuzz-0001")
    invoice = issued_invoice()
    with monkeypatch.context() as patch:
        fakes = install_fakes(patch)
        pesapal = payment_start(invoice=invoice, gateway="pesapal").attempt
        azampay = payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt
    assert fakes[1].pushes
    reset_gateway_clients()
    status = json.loads((FIXTURES / "pesapal/status_pending.json").read_text())
    status.update(order_tracking_id=pesapal.gateway_reference)
    base = settings.PESAPAL_BASE_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            f"{base}/api/Auth/RequestToken",
            body=(FIXTURES / "pesapal/request_token.json").read_text(),
            content_type="application/json",
        )
        mock.get(f"{base}/api/Transactions/GetTransactionStatus", json=status)
        yield pesapal, azampay


def _money_state():
    """Everything a message must not change: attempt states, ledger, invoices."""
    return (
        list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
    )


def _check(response, before, *, allowed):
    """The shared invariants; returns the inbox row the request left."""
    event(f"HTTP {response.status_code}")
    assert response.status_code in allowed
    assert _money_state() == before
    notification = GatewayNotification.objects.latest("pk")
    if response.status_code == 400:
        assert notification.result == GatewayNotification.Result.REJECTED
        assert notification.error
    return notification


def _query_pairs(tracking_id):
    key = st.sampled_from(PESAPAL_KEYS) | _text
    value = st.sampled_from([tracking_id, ""]) | _text | _long_text
    return st.lists(st.tuples(key, value), max_size=6)


# --- Pesapal IPN (GET) and browser return ---------------------------------------------------------


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(data=st.data(), raw=st.booleans())
def test_pesapal_ipn_get_with_any_query_string(client, orders, data, raw):
    pesapal, _ = orders
    if raw:
        # Whatever bytes a client puts on the request line, as WSGI hands them over.
        query = data.draw(st.binary(max_size=600)).decode("latin-1")
    else:
        query = urlencode(data.draw(_query_pairs(pesapal.gateway_reference)))
    before = _money_state()
    count = GatewayNotification.objects.count()
    response = client.get("/payments/pesapal/ipn/", QUERY_STRING=query)
    _check(response, before, allowed=(200, 400))
    assert GatewayNotification.objects.count() == count + 1
    if response.status_code == 200:
        assert set(response.json()) == {
            "orderNotificationType",
            "orderTrackingId",
            "orderMerchantReference",
            "status",
        }


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(data=st.data())
def test_pesapal_browser_return_with_any_query_string(client, orders, data):
    pesapal, _ = orders
    query = urlencode(data.draw(_query_pairs(pesapal.gateway_reference)))
    before = _money_state()
    response = client.get("/payments/pesapal/callback/", QUERY_STRING=query)
    notification = _check(response, before, allowed=(303, 400, 404))
    assert notification.kind == GatewayNotification.Kind.BROWSER_RETURN
    if response.status_code == 303:
        assert response["Location"] == f"/invoices/{pesapal.invoice.token}/"


# --- Pesapal IPN (POST) -------------------------------------------------------------------------

_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "multipart/form-data; boundary=wetech",
    "text/plain",
    "application/octet-stream",
    "",
]


def _bodies(tracking_id):
    pascal = st.dictionaries(
        st.sampled_from(PESAPAL_KEYS), st.sampled_from([tracking_id]) | _json, max_size=3
    )
    return st.one_of(
        st.binary(max_size=1500),
        _json.map(lambda value: json.dumps(value).encode()),
        pascal.map(lambda value: json.dumps(value).encode()),
        _query_pairs(tracking_id).map(lambda pairs: urlencode(pairs).encode()),
        st.text(max_size=300).map(lambda text: ("{" + text).encode()),
    )


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(data=st.data(), content_type=st.sampled_from(_CONTENT_TYPES))
def test_pesapal_ipn_post_with_any_body(client, orders, data, content_type):
    pesapal, _ = orders
    body = data.draw(_bodies(pesapal.gateway_reference))
    before = _money_state()
    count = GatewayNotification.objects.count()
    response = client.generic("POST", "/payments/pesapal/ipn/", body, content_type=content_type)
    _check(response, before, allowed=(200, 400))
    assert GatewayNotification.objects.count() == count + 1


# --- AzamPay callback (right secret) --------------------------------------------------------------


def _azampay_bodies(attempt):
    fields = st.dictionaries(
        st.sampled_from(AZAMPAY_KEYS),
        _json | st.sampled_from([attempt.gateway_reference, "success", "failure", "413000"]),
        max_size=len(AZAMPAY_KEYS),
    )
    # A well-formed callback for an order that is not ours, with a few fields mangled.
    mangled = st.dictionaries(
        st.sampled_from(AZAMPAY_KEYS),
        _json | st.sampled_from([attempt.gateway_reference, "failure", "413000.5"]),
        max_size=3,
    )
    plausible = mangled.map(
        lambda changes: {
            "message": "success",
            "transactionstatus": "success",
            "operator": "Mpesa",
            "reference": "0123456789abcdef",
            "externalreference": "0123456789abcdef",
            "transid": "0123456789abcdef",
            "utilityref": "WT-2026-99999-FOREIGN1",
            "amount": "413000",
            "msisdn": "255712345678",
            "mnoreference": "MNO12345",
            **changes,
        }
    ).filter(lambda body: body["utilityref"] != attempt.merchant_reference)
    return st.one_of(
        _json.map(lambda value: json.dumps(value).encode()),
        fields.map(lambda value: json.dumps(value).encode()),
        plausible.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=1000),
        # Invalid UTF-8 inside an otherwise plausible object.
        st.binary(min_size=1, max_size=50).map(lambda raw: b'{"utilityref": "' + raw + b'\xff"}'),
    )


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(data=st.data(), content_type=st.sampled_from(_CONTENT_TYPES))
def test_azampay_callback_with_any_body(client, orders, data, content_type):
    _, azampay = orders
    body = data.draw(_azampay_bodies(azampay))
    before = _money_state()
    count = GatewayNotification.objects.count()
    response = client.generic(
        "POST", f"/payments/azampay/callback/{SECRET}/", body, content_type=content_type
    )
    # Our own attempt's utilityref is never sent, so no body can be about our attempt.
    _check(response, before, allowed=(200, 400))
    assert GatewayNotification.objects.count() == count + 1


# --- found by the fuzzing above: NUL characters (PostgreSQL cannot store them) --------------------


def test_nul_characters_in_a_notification_are_stored_replaced_not_a_500(client, orders):
    before = _money_state()
    get = client.get("/payments/pesapal/ipn/", QUERY_STRING="OrderTrackingId=a%00b")
    post = client.post(
        "/payments/pesapal/ipn/",
        json.dumps({"OrderTrackingId": "c\u0000d"}),
        content_type="application/json",
    )
    azampay = client.post(
        f"/payments/azampay/callback/{SECRET}/",
        json.dumps({"utilityref": "WT\u0000", "transactionstatus": "success"}),
        content_type="application/json",
    )
    assert (get.status_code, post.status_code, azampay.status_code) == (200, 200, 200)
    assert get.json()["orderTrackingId"] == "a\ufffdb"
    assert _money_state() == before
    stored = GatewayNotification.objects.order_by("pk")
    assert [row.result for row in stored] == ["ignored"] * 3
    assert stored[0].query_string == "OrderTrackingId=a\ufffdb"
    assert "\x00" not in "".join(row.body for row in stored)
