"""Hostile input at the page forms: never a 500, nothing stored on rejection.

`POST /leads/` from a service page is fuzzed in `wetech/tests/views/test_leads.py`; this covers the
pay forms and the general enquiry (`/contact/`, no service).
"""

import re

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wetech.models import Client, Invoice, Lead, PaymentAttempt
from wetech.tests.lead_helpers import lead_post
from wetech.tests.payment_helpers import configure_gateways, install_fakes, issued_invoice

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROVIDERS = ["Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa"]
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
_phones = st.sampled_from(
    ["0712 345 678", "+255712345678", "255712345678", "0222 123 456", "+1 202 555 0100", ""]
) | st.text(alphabet="0123456789 +-()x#*", max_size=40)
_extra_fields = st.dictionaries(
    _text.filter(lambda key: key not in ("phone", "provider", "csrfmiddlewaretoken")),
    _text,
    max_size=4,
)


@pytest.fixture
def gateways(settings, monkeypatch):
    configure_gateways(settings)
    return install_fakes(monkeypatch)


@pytest.fixture
def invoice(gateways):
    return issued_invoice()


def _csrf_client(invoice) -> tuple[HttpClient, str]:
    """A browser that loaded the invoice page: CSRF cookie set, token known."""
    browser = HttpClient(enforce_csrf_checks=True)
    page = browser.get(f"/invoices/{invoice.token}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return browser, token


def _attempts() -> list[tuple[int, str]]:
    return list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status"))


# Many examples push for one invoice: the push limits (tested on their own) are off here.
@override_settings(RATELIMIT_ENABLE=False, AZAMPAY_PUSHES_PER_INVOICE=0, AZAMPAY_PUSHES_PER_PHONE=0)
@FUZZ
@given(
    phone=_phones | _text,
    provider=st.sampled_from(PROVIDERS) | _text,
    extra=_extra_fields,
    as_json=st.booleans(),
)
def test_azampay_pay_form_never_500s_and_a_rejection_stores_no_attempt(
    client, invoice, phone, provider, extra, as_json
):
    before = _attempts()
    response = client.post(
        f"/invoices/{invoice.token}/pay/azampay/",
        {**extra, "phone": phone, "provider": provider},
        **({"HTTP_ACCEPT": "application/json"} if as_json else {}),
    )
    event(f"HTTP {response.status_code}")
    assert response.status_code in (303, 400)
    if response.status_code == 400:
        assert _attempts() == before
        if as_json:
            assert response.json()["error"]["code"] == "validation_error"
    else:
        assert PaymentAttempt.objects.count() == len(before) + 1
        assert PaymentAttempt.objects.latest("pk").provider in PROVIDERS


_content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=no-such-charset",
        "multipart/form-data; boundary=wetech",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]
)


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(body=st.binary(max_size=2000), content_type=_content_types, with_token=st.booleans())
def test_pesapal_pay_with_junk_bodies_never_500s(invoice, body, content_type, with_token):
    browser, token = _csrf_client(invoice)
    before = _attempts()
    response = browser.generic(
        "POST",
        f"/invoices/{invoice.token}/pay/pesapal/",
        body,
        content_type=content_type,
        **({"HTTP_X_CSRFTOKEN": token} if with_token else {}),
    )
    # The body carries nothing the view reads: it either passes CSRF and starts a payment, or is
    # refused (403 without a token, 400 when it cannot even be parsed) with nothing stored.
    event(f"HTTP {response.status_code}")
    assert response.status_code in (303, 400, 403)
    if response.status_code == 303:
        assert PaymentAttempt.objects.count() == len(before) + 1
    else:
        assert _attempts() == before
    if not with_token:
        assert response.status_code in (400, 403)


def _lead_rows() -> tuple[int, int, int]:
    return (Client.objects.count(), Lead.objects.count(), Invoice.objects.count())


CONTACT_FIELDS = ["name", "email", "phone", "company", "tin", "message", "website", "form_token"]
CONTACT_FIELDS += ["marketing_consent", "utm_source", "landing_page", "referrer"]


@override_settings(RATELIMIT_ENABLE=False)
@FUZZ
@given(
    overrides=st.dictionaries(
        st.sampled_from(CONTACT_FIELDS),
        _text | st.sampled_from(["", "on", "x" * 5001]),
    ),
    as_json=st.booleans(),
)
def test_contact_form_never_500s_and_a_rejection_saves_nothing(client, db, overrides, as_json):
    data = lead_post(
        client, "/contact/", **{"message": "We need a website for our shop.", **overrides}
    )
    data.pop("service", None)
    before = _lead_rows()
    response = client.post(
        "/leads/", data, **({"HTTP_ACCEPT": "application/json"} if as_json else {})
    )
    after = _lead_rows()
    event(f"HTTP {response.status_code}")
    assert response.status_code in (201, 303, 400)
    if response.status_code == 400:
        assert after == before
    else:
        # A general enquiry never creates an invoice.
        assert after[1:] == (before[1] + 1, before[2])
        if response.status_code == 303:
            assert response["Location"] == "/leads/thanks/"
