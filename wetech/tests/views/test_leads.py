import json
import re
import time
from decimal import Decimal

import pytest
import time_machine
from django.core import signing
from django.test import override_settings
from huey.contrib.djhuey import HUEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wetech.forms import LEAD_FORM_SALT
from wetech.models import Client, Invoice, Lead
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.lead_helpers import lead_post, make_service

pytestmark = pytest.mark.django_db

SERVICE_URL = "/services/business-website/"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def service():
    return make_service(price=Decimal("350000"))


def _nothing_saved():
    return (Client.objects.count(), Lead.objects.count(), Invoice.objects.count()) == (0, 0, 0)


def test_priced_service_redirects_to_the_issued_invoice(client, service):
    data = lead_post(client, SERVICE_URL + "?utm_source=facebook&utm_campaign=launch")
    response = client.post("/leads/", data, HTTP_REFERER="http://testserver" + SERVICE_URL)
    invoice = Invoice.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/invoices/{invoice.token}/"
    lead = Lead.objects.get()
    assert lead.service == service
    assert lead.phone == "+255712345678"
    assert lead.utm_source == "facebook"
    assert lead.utm_campaign == "launch"
    assert lead.source_page == SERVICE_URL
    assert lead.landing_page == SERVICE_URL + "?utm_source=facebook&utm_campaign=launch"


def test_contact_form_redirects_to_thanks_without_an_invoice(client, service):
    data = lead_post(client, "/contact/", message="Tunahitaji msaada wa IT.")
    response = client.post("/leads/", data)
    assert response.status_code == 303
    assert response["Location"] == "/leads/thanks/"
    assert Invoice.objects.count() == 0
    assert Lead.objects.get().service is None
    assert client.get("/leads/thanks/").status_code == 200


def test_contact_form_needs_a_message(client):
    data = lead_post(client, "/contact/", message="   ")
    response = client.post("/leads/", data)
    assert response.status_code == 400
    assert "Tell us briefly what you need." in response.content.decode()
    assert _nothing_saved()


def test_json_client_gets_201_with_lead_and_invoice(client, service):
    data = lead_post(client, SERVICE_URL)
    response = client.post("/leads/", data, **JSON)
    assert response.status_code == 201
    body = response.json()
    invoice = Invoice.objects.get()
    assert body["lead"]["service"] == "business-website"
    assert body["lead"]["status"] == "new"
    assert body["invoice"]["number"] == invoice.number
    assert body["invoice"]["total"] == "413000.00"
    assert body["invoice"]["url"] == f"http://127.0.0.1:8000/invoices/{invoice.token}/"


def test_json_general_enquiry_has_a_null_invoice(client):
    data = lead_post(client, "/contact/", message="Hello")
    response = client.post("/leads/", data, **JSON)
    assert response.status_code == 201
    assert response.json()["invoice"] is None


def test_invalid_fields_re_render_the_form_with_each_error(client, service):
    data = lead_post(client, SERVICE_URL, name="", email="not-an-email", phone="12")
    response = client.post("/leads/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please tell us your name." in html
    assert "Enter a valid email address, e.g. asha@example.co.tz." in html
    assert "0712 345 678" in html  # the phone error says what a good number looks like
    assert 'aria-invalid="true"' in html
    assert _nothing_saved()


@pytest.mark.parametrize("typed", ["123-456-789", "123 456 789", "123456789"])
def test_the_buyers_tin_is_stored_as_nine_digits_and_shown_on_the_invoice(client, service, typed):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, tin=typed))
    assert response.status_code == 303
    lead, invoice = Lead.objects.get(), Invoice.objects.get()
    assert (lead.tin, invoice.client_tin) == ("123456789", "123456789")
    assert "TIN 123-456-789" in client.get(response["Location"]).content.decode()


def test_no_tin_is_fine(client, service):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, tin=""))
    assert response.status_code == 303
    assert (Lead.objects.get().tin, Invoice.objects.get().client_tin) == ("", "")


@pytest.mark.parametrize("typed", ["12345678", "1234567890", "123-456-78X", "TIN 123456789"])
def test_a_tin_that_is_not_nine_digits_is_a_field_error(client, service, typed):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, tin=typed))
    html = response.content.decode()
    assert response.status_code == 400
    assert '<a href="#id_tin">TIN (optional)</a>: A TIN has 9 digits, e.g. 123-456-789.' in html
    assert re.search(r'<input[^>]*name="tin"[^>]*aria-invalid="true"', html)
    assert f'value="{typed}"' in html  # kept, to be corrected rather than typed again
    assert _nothing_saved()


def test_a_json_client_gets_the_tin_error_in_its_fields(client, service):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, tin="12-34"), **JSON)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "tin": ["A TIN has 9 digits, e.g. 123-456-789. Check it, or leave the field empty."]
    }
    assert _nothing_saved()


def test_a_json_client_may_send_a_tin(client, service):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, tin="987-654-321"), **JSON)
    assert response.status_code == 201
    assert Invoice.objects.get().client_tin == "987654321"


def test_invalid_json_gets_the_contract_error_shape(client, service):
    data = lead_post(client, SERVICE_URL, phone="+255 1")
    response = client.post("/leads/", data, **JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"phone"}
    assert error["message"]
    assert error["suggestions"]
    assert error["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 121),
        ("company", "c" * 121),
        ("message", "m" * 5001),
        ("utm_source", "u" * 201),
    ],
)
def test_over_long_fields_are_refused(client, service, field, value):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, **{field: value}))
    assert response.status_code == 400
    assert _nothing_saved()


def test_a_filled_honeypot_is_refused(client, service):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, website="http://spam.example"))
    assert response.status_code == 400
    assert "looks automated" in response.content.decode()
    assert _nothing_saved()


@override_settings(LEAD_FORM_MIN_SECONDS=3)
def test_a_submit_faster_than_a_person_is_refused(client, service):
    response = client.post("/leads/", lead_post(client, SERVICE_URL), **JSON)
    assert response.status_code == 400
    assert "quicker than a person" in response.json()["error"]["fields"]["form_token"][0]
    assert _nothing_saved()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        signing.dumps(0.0, salt="another.salt"),
        signing.dumps("yesterday", salt=LEAD_FORM_SALT),
    ],
)
def test_missing_or_tampered_form_token_is_refused(client, service, token):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, form_token=token))
    assert response.status_code == 400
    assert "Reload the page" in response.content.decode()
    assert _nothing_saved()


@override_settings(LEAD_FORM_MAX_AGE_SECONDS=60)
def test_an_expired_form_is_refused(client, service):
    with time_machine.travel(time.time() - 61, tick=False):
        data = lead_post(client, SERVICE_URL)
    response = client.post("/leads/", data)
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_an_inactive_service_is_a_field_error(client, service):
    data = lead_post(client, SERVICE_URL)
    service.active = False
    service.save()
    response = client.post("/leads/", data, **JSON)
    assert response.status_code == 400
    assert "service" in response.json()["error"]["fields"]


def test_get_is_not_allowed(client):
    assert client.get("/leads/").status_code == 405


def test_hostile_text_is_stored_plain_and_shown_escaped(client, service):
    data = lead_post(
        client,
        SERVICE_URL,
        name="<b>Asha</b> 😀 <script>alert('x')</script>",
        company="'; DROP TABLE leads; --",
        message="Habari, ninahitaji tovuti <img src=x onerror=alert(1)>",
    )
    response = client.post("/leads/", data, follow=True)
    lead = Lead.objects.get()
    assert lead.name == "Asha 😀 alert('x')"
    assert lead.company == "'; DROP TABLE leads; --"
    assert lead.message == "Habari, ninahitaji tovuti"
    html = response.content.decode()
    assert "Asha 😀 alert(&#x27;x&#x27;)" in html
    assert "&#x27;; DROP TABLE leads; --" in html
    assert "<script>alert" not in html
    assert Lead.objects.count() == 1  # the table is still there


def test_the_staff_and_customer_emails_are_queued_not_sent_in_the_request(
    client, service, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        override_settings(STAFF_EMAILS=["sales@wetech.co.tz"]),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post("/leads/", lead_post(client, SERVICE_URL))
    assert mailoutbox == []
    assert HUEY.pending_count() == 2

    assert [message.to for message in outbox_deliver()] == [
        ["sales@wetech.co.tz"],
        ["asha@example.co.tz"],
    ]


@override_settings(LEADS_RATE_LIMIT="2/m", LEADS_DAILY_LIMIT="50/d")
def test_over_the_rate_limit_answers_429_with_retry_after(client):
    statuses = []
    for _ in range(3):
        data = lead_post(client, "/contact/", message="Hello")
        statuses.append(client.post("/leads/", data, **JSON))
    assert [r.status_code for r in statuses] == [201, 201, 429]
    limited = statuses[-1]
    assert limited["Retry-After"] == "60"
    assert limited.json()["error"]["code"] == "rate_limited"
    assert Lead.objects.count() == 2
    html = client.post("/leads/", lead_post(client, "/contact/", message="Hi"))
    assert html.status_code == 429
    assert "Slow down" in html.content.decode()


@override_settings(LEADS_RATE_LIMIT="50/m", LEADS_DAILY_LIMIT="2/d")
def test_the_daily_limit_also_applies(client):
    codes = [
        client.post("/leads/", lead_post(client, "/contact/", message="Hello")).status_code
        for _ in range(3)
    ]
    assert codes == [303, 303, 429]


@override_settings(LEADS_RATE_LIMIT="2/m", TRUSTED_PROXY_COUNT=1)
def test_a_spoofed_forwarded_for_cannot_dodge_the_limit(client):
    codes = []
    for n in range(3):
        data = lead_post(client, "/contact/", message="Hello")
        response = client.post(
            "/leads/",
            data,
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.7",
        )
        codes.append(response.status_code)
    assert codes == [303, 303, 429]


@override_settings(LEADS_RATE_LIMIT="2/m", TRUSTED_PROXY_COUNT=0)
def test_an_ipv4_mapped_ipv6_address_shares_its_ipv4_limit(client):
    codes = [
        client.post(
            "/leads/", lead_post(client, "/contact/", message="Hello"), REMOTE_ADDR=address
        ).status_code
        for address in ("198.51.100.7", "::ffff:198.51.100.7", "::ffff:c633:6407")
    ]
    assert codes == [303, 303, 429]
    assert Lead.objects.count() == 2


@override_settings(LEADS_RATE_LIMIT="1/m", RATELIMIT_ENABLE=False)
def test_rate_limits_can_be_switched_off(client):
    codes = [
        client.post("/leads/", lead_post(client, "/contact/", message="Hello")).status_code
        for _ in range(3)
    ]
    assert codes == [303, 303, 303]


LEAD_FIELDS = [
    "name",
    "email",
    "phone",
    "company",
    "tin",
    "service",
    "message",
    "marketing_consent",
    "website",
    "form_token",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "landing_page",
    "referrer",
]
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=300,
)


@override_settings(RATELIMIT_ENABLE=False)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    overrides=st.dictionaries(st.sampled_from(LEAD_FIELDS), _text | st.sampled_from(["", "on"])),
    as_json=st.booleans(),
)
def test_no_input_gives_a_500_and_rejects_save_nothing(client, service, overrides, as_json):
    data = lead_post(client, SERVICE_URL, **overrides)
    before = (Client.objects.count(), Lead.objects.count(), Invoice.objects.count())
    response = client.post("/leads/", data, **(JSON if as_json else {}))
    after = (Client.objects.count(), Lead.objects.count(), Invoice.objects.count())
    assert response.status_code in (201, 303, 400)
    if response.status_code == 400:
        assert after == before
        if as_json:
            assert json.loads(response.content)["error"]["code"] == "validation_error"
    else:
        assert after[1] == before[1] + 1


@pytest.mark.parametrize(
    "field", ["name", "email", "phone", "tin", "service", "message", "utm_source"]
)
def test_nul_characters_are_a_400_not_a_500(client, service, field):
    response = client.post("/leads/", lead_post(client, SERVICE_URL, **{field: "a\x00b"}))
    assert response.status_code == 400
    assert _nothing_saved()
