"""Every public endpoint, fuzzed with the hostile shapes: never a 5xx, nothing half-saved.

Shapes (mixed freely in one request): JSON nested past the recursion limit, lone surrogates in
JSON strings and keys, invalid UTF-8 in bodies, query strings and header values, malformed and
over-long URLs in the lead form's tracking fields, the Referer header and the query string, huge
headers, and multipart bodies with or without a file part. Honest fields (the page's hidden
fields, the CSRF token, our own order's ids) are mixed in, so requests also get past the first
checks and reach the code behind them.

A browser that loaded a page first (CSRF cookie set) sends everything, as production sees it.
Example counts come from the "ci" Hypothesis profile (wetech/tests/conftest.py).
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from hypothesis import event, given
from hypothesis import strategies as st

from wetech.models import (
    Client,
    GatewayNotification,
    Invoice,
    Lead,
    LedgerEntry,
    PaymentAttempt,
)
from wetech.payments.start import payment_start
from wetech.tests.lead_helpers import hidden_fields, make_service
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

SECRET = "simulator-callback-secret-0123456789abcdef"
MALFORMED_URLS = [
    "http://[::1",
    "http://[::1]]/",
    "http://%zz",
    "http://%zz/a?b=%ff",
    "http://example.com:port/",
    "http://1.2.3.4:99999/",
    "https://exa mple.com/",
    "javascript:alert(1)",
    "//evil.example/",
    "http:///no-host",
    "http://" + "a" * 600,
    "/" + "p" * 700,
]
FIELD_NAMES = [
    "name",
    "email",
    "phone",
    "company",
    "message",
    "landing_page",
    "referrer",
    "utm_source",
    "utm_campaign",
    "OrderTrackingId",
    "OrderMerchantReference",
    "utilityref",
    "transactionstatus",
    "amount",
    "provider",
    "username",
    "next",
]


# --- The shapes -----------------------------------------------------------------------------------

_surrogate = st.characters(categories=["Cs"])
_unicode = st.text(max_size=30)
_with_surrogates = st.lists(_surrogate | st.characters(), min_size=1, max_size=30).map("".join)
_malformed_url = st.sampled_from(MALFORMED_URLS) | _unicode.map(lambda text: "http://" + text)
_latin1_junk = st.binary(min_size=1, max_size=60).map(lambda raw: (raw + b"\xff").decode("latin-1"))
_huge = st.sampled_from([1_000, 10_000, 200_000]).map(lambda size: "h" * size)


def _nested_json():
    return st.one_of(
        st.integers(33, 30_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(33, 9_000).map(lambda n: b'{"OrderTrackingId": ' + b'{"a": ' * n),
        st.integers(33, 9_000).map(lambda n: b'{"utilityref": "x", "d": ' + b"[" * n),
    )


def _surrogate_json(honest):
    keys = st.sampled_from(FIELD_NAMES) | _with_surrogates
    values = _with_surrogates | st.sampled_from(list(honest.values()) or [""])
    # json.dumps writes each surrogate as a \\udXXX escape: the body itself is plain ASCII.
    return st.dictionaries(keys, values, max_size=6).map(lambda d: json.dumps({**honest, **d}))


def _form_pairs(honest):
    """Form fields: honest ones with some replaced by malformed URLs, junk or raw bytes."""
    value = _malformed_url | _unicode | st.binary(max_size=40)
    return st.dictionaries(st.sampled_from(FIELD_NAMES), value, max_size=6).map(
        lambda overrides: {**honest, **overrides}
    )


def _urlencoded(pairs) -> bytes:
    """Percent-encoded as sent; bytes values keep their invalid UTF-8 (e.g. %FF)."""
    parts = []
    for key, value in pairs.items():
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        parts.append(f"{quote(key)}={quote_from_bytes(raw)}")
    return "&".join(parts).encode()


BOUNDARY = "wetechfuzz"


def _multipart(pairs, file_part: bytes | None) -> bytes:
    chunks = []
    for key, value in pairs.items():
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
            + raw
            + b"\r\n"
        )
    if file_part is not None:
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; '
            f'filename="cv.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
            + file_part
            + b"\r\n"
        )
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


FORM = "application/x-www-form-urlencoded"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _bodies(honest):
    """(shape name, body bytes, content type)."""
    json_types = st.sampled_from(["application/json", "text/plain", FORM, ""])
    return st.one_of(
        st.tuples(st.just("none"), st.just(b""), st.just("")),
        st.tuples(st.just("nested json"), _nested_json(), json_types),
        st.tuples(st.just("surrogates"), _surrogate_json(honest).map(str.encode), json_types),
        st.tuples(
            st.just("invalid utf-8"),
            st.binary(max_size=200).map(lambda raw: b'{"a": "' + raw + b'\xff"}'),
            json_types,
        ),
        st.tuples(st.just("form"), _form_pairs(honest).map(_urlencoded), st.just(FORM)),
        st.tuples(
            st.just("multipart"),
            st.builds(_multipart, _form_pairs(honest), st.none()),
            st.just(MULTIPART),
        ),
        st.tuples(
            st.just("multipart with a file"),
            st.builds(_multipart, _form_pairs(honest), st.binary(min_size=1, max_size=4096)),
            st.just(MULTIPART),
        ),
    )


def _query():
    return st.one_of(
        st.just(""),
        # Whatever bytes a client puts on the request line, as WSGI hands them over.
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
        st.dictionaries(
            st.sampled_from(["utm_source", "utm_medium", "next", "OrderTrackingId", "q"]),
            _malformed_url | _with_surrogates,
            max_size=3,
        ).map(lambda pairs: _urlencoded(pairs).decode()),
    )


def _headers():
    junk = _latin1_junk | _huge
    return st.fixed_dictionaries(
        {},
        optional={
            # UTF-8 on the wire, handed over by WSGI as latin-1.
            "HTTP_REFERER": _malformed_url.map(lambda url: url.encode().decode("latin-1")) | junk,
            "HTTP_USER_AGENT": junk,
            "HTTP_X_FORWARDED_FOR": junk | st.just("203.0.113.9, " * 5_000),
            "HTTP_X_REQUEST_ID": junk,
            "HTTP_ACCEPT": st.sampled_from(["application/json", "text/html", "*/*"]) | junk,
            "HTTP_X_PESAPAL_SIGNATURE": junk,
        },
    )


# --- The world and its invariants -----------------------------------------------------------------


@dataclass
class World:
    browser: HttpClient
    csrf_token: str
    service_slug: str
    invoice: Invoice
    pesapal: PaymentAttempt
    azampay: PaymentAttempt


@pytest.fixture
def world(fakes):
    service = make_service(price=Decimal("350000"), slug="business-website")
    invoice = issued_invoice()
    pesapal = payment_start(invoice=invoice, gateway="pesapal").attempt
    azampay = payment_start(
        gateway="azampay",
        invoice=issued_invoice(email="juma@example.co.tz"),
        phone="+255712345678",
        provider="Mpesa",
    ).attempt
    browser = HttpClient(enforce_csrf_checks=True)
    page = browser.get(f"/services/{service.slug}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return World(browser, token, service.slug, invoice, pesapal, azampay)


def _rows():
    return (
        Client.objects.count(),
        Lead.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
        list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
    )


def _nothing_half_saved():
    """Whatever was saved, was saved whole."""
    priced = Lead.objects.filter(service__price__isnull=False)
    assert not priced.filter(invoice__isnull=True).exists()
    assert not Invoice.objects.exclude(status="draft").filter(lines__isnull=True).exists()
    assert not GatewayNotification.objects.filter(result="received").exists()
    assert LedgerEntry.objects.count() == 0


def _lead_fields(world):
    page = world.browser.get(f"/services/{world.service_slug}/").content.decode()
    return {
        **hidden_fields(page),
        "name": "Asha Mwinyi",
        "email": "asha@example.co.tz",
        "phone": "0712 345 678",
    }


# Each endpoint: methods, path, the honest fields that get a request past the first checks.
ENDPOINTS = {
    "home": (["GET", "POST"], "/", lambda w: {}),
    "service page": (["GET", "POST"], "/services/business-website/", lambda w: {}),
    "contact": (["GET", "POST"], "/contact/", lambda w: {}),
    "thanks": (["GET"], "/leads/thanks/", lambda w: {}),
    "lead": (["POST"], "/leads/", _lead_fields),
    "invoice page": (["GET"], "/invoices/{token}/", lambda w: {}),
    "invoice status": (["GET"], "/invoices/{token}/status/", lambda w: {}),
    "pay pesapal": (["POST"], "/invoices/{token}/pay/pesapal/", lambda w: {}),
    "pay azampay": (
        ["POST"],
        "/invoices/{token}/pay/azampay/",
        lambda w: {"phone": "0712 345 678", "provider": "Mpesa"},
    ),
    "pesapal return": (
        ["GET"],
        "/payments/pesapal/callback/",
        lambda w: {"OrderTrackingId": w.pesapal.gateway_reference},
    ),
    "pesapal ipn": (
        ["GET", "POST"],
        "/payments/pesapal/ipn/",
        lambda w: {
            "OrderTrackingId": w.pesapal.gateway_reference,
            "OrderMerchantReference": w.pesapal.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        },
    ),
    "azampay callback": (
        ["POST"],
        f"/payments/azampay/callback/{SECRET}/",
        # A real-looking callback about an order that is not ours.
        lambda w: {
            "utilityref": "WT-2026-99999-FOREIGN1",
            "transactionstatus": "success",
            "reference": w.azampay.gateway_reference,
            "amount": "413000",
        },
    ),
    "health": (["GET"], "/health/", lambda w: {}),
    "ready": (["GET"], "/health/ready/", lambda w: {}),
    "live": (["GET"], "/health/live/", lambda w: {}),
    "admin login": (["GET", "POST"], "/admin/login/", lambda w: {"username": "admin"}),
}


@override_settings(RATELIMIT_ENABLE=False)
@pytest.mark.parametrize("name", list(ENDPOINTS))
@given(data=st.data())
def test_every_public_endpoint_survives_hostile_shapes(world, name, data):
    methods, path, honest_fields = ENDPOINTS[name]
    method = data.draw(st.sampled_from(methods), label="method")
    honest = honest_fields(world)
    if method == "POST":
        honest = {**honest, "csrfmiddlewaretoken": world.csrf_token}
    shape, body, content_type = data.draw(_bodies(honest), label="body")
    query = data.draw(_query(), label="query")
    if method == "GET" and honest and data.draw(st.booleans(), label="honest query"):
        query = "&".join(part for part in (urlencode(honest), query) if part)
    headers = data.draw(_headers(), label="headers")
    if method == "POST" and data.draw(st.booleans(), label="csrf header"):
        headers["HTTP_X_CSRFTOKEN"] = world.csrf_token
    event(f"{name}: {method} {shape}")

    before = _rows()
    notifications = GatewayNotification.objects.count()
    response = world.browser.generic(
        method,
        path.format(token=world.invoice.token),
        body,
        content_type=content_type,
        QUERY_STRING=query,
        **headers,
    )
    event(f"{name}: HTTP {response.status_code}")

    if name in ("health", "ready") and response.status_code == 503:
        # A probe's 503 is its verdict on the machine (e.g. no backup folder), in its format.
        assert response["Content-Type"] == "application/health+json"
    else:
        assert response.status_code < 500
    _nothing_half_saved()
    if response.status_code >= 400:
        assert _rows() == before
    if shape == "multipart with a file" and method == "POST" and response.status_code != 403:
        # Refused as soon as the body is read: no endpoint takes a file.
        assert response.status_code in (400, 405)
        assert _rows() == before
    added = GatewayNotification.objects.count() - notifications
    if name in ("pesapal return", "pesapal ipn", "azampay callback"):
        # Whatever arrived at a callback is recorded, readable or not (405 never reaches it).
        assert added == (0 if response.status_code == 405 else 1)
    else:
        assert added == 0
