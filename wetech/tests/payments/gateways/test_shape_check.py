"""Comparing gateway answers with the committed shapes: the rules, the calls, the recordings.

The check against the simulators themselves is `wetech/tests/sandbox/test_shapes.py` (the files
equal the simulators) and `wetech/tests/management/test_gateway_check.py` (the command).
"""

import json

import pytest
from responses import matchers

from wetech.payments.gateways.shape_check import (
    NOT_JSON,
    CheckOptions,
    GatewayAnswer,
    answer_compare,
    gateway_shapes_check,
    shape_compare,
    shape_extract,
    shape_merge,
    shape_words,
    shapes_load,
)

from .conftest import (
    AZAMPAY_AUTH,
    AZAMPAY_CHECKOUT,
    PESAPAL_BASE,
    fixture_json,
    fixture_text,
)

STATUS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["200", "500"]},
        "payment_method": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "error": {
            "type": ["object", "null"],
            "properties": {"code": {"type": ["string", "null"], "enum": ["x_not_found"]}},
            "required": ["code"],
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}},
                "required": ["id"],
            },
        },
    },
    "required": ["status", "payment_method"],
}


# --- the rules ------------------------------------------------------------------------------------


def test_a_body_that_fits_has_no_differences():
    body = {
        "status": "500",
        "payment_method": "",
        "description": None,
        "error": {"code": "x_not_found"},
        "items": [{"id": "a"}, {"id": "b"}],
    }

    assert shape_compare(STATUS, body) == []


def test_each_kind_of_difference_is_one_sentence_with_its_field():
    body = {
        "status": "201",
        "payment_method": None,
        "description": 3,
        "error": {"code": None, "extra": True},
        "items": [{"id": 1}, {"id": 2}, {}],
        "new_field": [],
    }

    assert shape_compare(STATUS, body) == [
        'field status: unexpected word "201" (known: "200", "500")',
        "field payment_method: expected string, got null",
        "field description: expected string or null, got number",
        "field error.extra: not in the shape (got boolean)",
        "field items[].id: expected string, got number",
        "field items[].id: missing",
        "field new_field: not in the shape (got array)",
    ]


def test_a_missing_required_field_and_a_wrong_body_type_are_reported():
    assert shape_compare(STATUS, {"status": "200"}) == ["field payment_method: missing"]
    assert shape_compare(STATUS, [1, 2]) == ["body: expected object, got array"]


def test_an_answer_is_judged_on_its_http_status_and_its_body():
    expected = {"http_status": [200], "body": {"type": "object"}}

    assert answer_compare(expected, GatewayAnswer("RequestToken", 500, NOT_JSON)) == [
        "HTTP status: expected 200, got 500",
        "body: expected object, got text",
    ]


def test_shapes_extracted_from_several_answers_join_types_words_and_fields():
    words = {"status", "error.code"}
    pending = shape_extract(
        {"status": "500", "error": {"code": "x_not_found"}, "description": None}, words=words
    )
    paid = shape_extract(
        {"status": "200", "error": {"code": None}, "description": "ok", "paid": 1}, words=words
    )

    joined = shape_merge(pending, paid)

    assert joined == {
        "type": "object",
        "properties": {
            "description": {"type": ["string", "null"]},
            "error": {
                "type": "object",
                "properties": {"code": {"type": ["string", "null"], "enum": ["x_not_found"]}},
                "required": ["code"],
            },
            "paid": {"type": "number"},
            "status": {"type": "string", "enum": ["200", "500"]},
        },
        "required": ["description", "error", "status"],
    }
    assert shape_words(joined) == words


def test_array_items_are_joined_and_an_empty_array_has_no_item_shape():
    assert shape_extract([]) == {"type": "array"}
    assert shape_extract([{"a": 1}, {"a": "x", "b": True}], words={"[].b"}) == {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "a": {"type": ["string", "number"]},
                "b": {"type": "boolean", "enum": [True]},
            },
            "required": ["a"],
        },
    }


# --- the recorded answers -------------------------------------------------------------------------

RECORDED = [
    ("pesapal", "pesapal/request_token.json", "RequestToken"),
    ("pesapal", "pesapal/ipn_list.json", "GetIpnList"),
    ("pesapal", "pesapal/register_ipn.json", "RegisterIPN"),
    ("pesapal", "pesapal/submit_order.json", "SubmitOrderRequest"),
    ("pesapal", "pesapal/status_pending.json", "GetTransactionStatus"),
    ("pesapal", "pesapal/status_completed.json", "GetTransactionStatus"),
    ("pesapal", "pesapal/status_failed.json", "GetTransactionStatus"),
    ("azampay", "azampay/token.json", "GenerateToken"),
    ("azampay", "azampay/mno_checkout.json", "MnoCheckout"),
    ("azampay", "azampay/status_pending.json", "GetTransactionStatus"),
    ("azampay", "azampay/status_success.json", "GetTransactionStatus"),
]


@pytest.mark.parametrize(("gateway", "fixture", "call"), RECORDED)
def test_the_recorded_gateway_answers_fit_the_committed_shapes(gateway, fixture, call):
    assert shape_compare(shapes_load(gateway)[call]["body"], fixture_json(fixture)) == []


def test_the_documented_reversed_casing_is_the_one_word_the_simulator_spells_otherwise():
    # Pesapal's docs say "REVERSED", live captures use "Completed"-style casing, as the
    # simulator does; the client compares case-insensitively, gateway_check reports it.
    shape = shapes_load("pesapal")["GetTransactionStatus"]["body"]

    assert shape_compare(shape, fixture_json("pesapal/status_reversed.json")) == [
        "field payment_status_description: unexpected word "
        '"REVERSED" (known: "Completed", "Failed", "INVALID", "Reversed")'
    ]


# --- the calls ------------------------------------------------------------------------------------


@pytest.fixture
def pesapal_settings(settings):
    settings.PESAPAL_BASE_URL = PESAPAL_BASE
    settings.PESAPAL_CONSUMER_KEY = "test-consumer-key"
    settings.PESAPAL_CONSUMER_SECRET = "test-consumer-secret"
    settings.PESAPAL_IPN_ID = ""
    settings.SITE_URL = "https://wetech.example"
    settings.DEFAULT_FROM_EMAIL = "WeTech <billing@wetech.example>"
    return settings


@pytest.fixture
def azampay_settings(settings):
    settings.AZAMPAY_AUTH_URL = AZAMPAY_AUTH
    settings.AZAMPAY_CHECKOUT_URL = AZAMPAY_CHECKOUT
    settings.AZAMPAY_APP_NAME = "wetech"
    settings.AZAMPAY_CLIENT_ID = "test-client-id"
    settings.AZAMPAY_CLIENT_SECRET = "test-client-secret"
    settings.AZAMPAY_API_KEY = "test-api-key"
    return settings


def _token(http):
    return http.post(
        f"{PESAPAL_BASE}/api/Auth/RequestToken",
        body=fixture_text("pesapal/request_token.json"),
        content_type="application/json",
        match=[
            matchers.json_params_matcher(
                {"consumer_key": "test-consumer-key", "consumer_secret": "test-consumer-secret"}
            )
        ],
    )


def test_pesapal_asks_for_a_token_the_ipn_list_and_a_made_up_order(http, pesapal_settings):
    token = fixture_json("pesapal/request_token.json")["token"]
    bearer = matchers.header_matcher({"Authorization": f"Bearer {token}"})
    _token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list.json"),
        content_type="application/json",
        match=[bearer],
    )
    unknown = http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        json={
            "error": {
                "error_type": "api_error",
                "code": "invalid_order_tracking_id",
                "message": "Order tracking id is invalid",
            },
            "status": "500",
        },
        match=[bearer],
    )

    report = gateway_shapes_check(gateway="pesapal")

    assert report.agrees
    assert [answer.call for answer, _ in report.results] == [
        "RequestToken",
        "GetIpnList",
        "GetTransactionStatus (unknown order)",
    ]
    asked = unknown.calls[0].request.params["orderTrackingId"]
    assert len(asked) == 36 and asked.count("-") == 4
    assert report.lines() == [
        "pesapal RequestToken: HTTP 200, agrees",
        "pesapal GetIpnList: HTTP 200, agrees",
        "pesapal GetTransactionStatus (unknown order): HTTP 200, agrees",
    ]


def test_pesapal_create_registers_the_ipn_url_and_places_the_smallest_order(http, pesapal_settings):
    token = fixture_json("pesapal/request_token.json")["token"]
    bearer = matchers.header_matcher({"Authorization": f"Bearer {token}"})
    submitted = fixture_json("pesapal/submit_order.json")
    _token(http)
    http.get(f"{PESAPAL_BASE}/api/URLSetup/GetIpnList", json=[], match=[bearer])
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        json={"error": {"error_type": "api_error", "code": "x", "message": ""}, "status": "500"},
        match=[
            matchers.query_param_matcher({"orderTrackingId": "known-order"}, strict_match=False)
        ],
    )
    register = http.post(
        f"{PESAPAL_BASE}/api/URLSetup/RegisterIPN",
        body=fixture_text("pesapal/register_ipn.json"),
        content_type="application/json",
        match=[
            bearer,
            matchers.json_params_matcher(
                {
                    "url": "https://wetech.example/payments/pesapal/ipn/",
                    "ipn_notification_type": "GET",
                }
            ),
        ],
    )
    order = http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        json=submitted,
        match=[bearer],
    )
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        body=fixture_text("pesapal/status_pending.json"),
        content_type="application/json",
        match=[
            matchers.query_param_matcher(
                {"orderTrackingId": submitted["order_tracking_id"]}, strict_match=False
            )
        ],
    )

    report = gateway_shapes_check(
        gateway="pesapal", options=CheckOptions(create=True, order_tracking_id="known-order")
    )

    sent = json.loads(order.calls[0].request.body)
    ipn_id = fixture_json("pesapal/register_ipn.json")["ipn_id"]
    assert register.call_count == 1
    assert sent["id"].startswith("CHECK-") and len(sent["id"]) == 18
    assert {key: value for key, value in sent.items() if key != "id"} == {
        "currency": "TZS",
        "amount": 1.0,
        "description": "gateway_check: the smallest possible order",
        "callback_url": "https://wetech.example/payments/pesapal/callback/",
        "notification_id": ipn_id,
        "billing_address": {"email_address": "billing@wetech.example", "phone_number": ""},
    }
    # The known order answered with an error body: that is a difference, reported.
    assert {
        "pesapal GetTransactionStatus: field amount: missing",
        "pesapal GetTransactionStatus: field error.code: unexpected word "
        '"x" (known: "payment_details_not_found")',
    } <= set(report.differences)
    assert [answer.call for answer, _ in report.results][-3:] == [
        "RegisterIPN",
        "SubmitOrderRequest",
        "GetTransactionStatus",
    ]
    assert report.results[-1][1] == []


def test_pesapal_reuses_this_sites_registered_ipn(http, pesapal_settings):
    registrations = fixture_json("pesapal/ipn_list.json")
    assert registrations[1]["url"] == f"{pesapal_settings.SITE_URL}/payments/pesapal/ipn/"
    _token(http)
    http.get(f"{PESAPAL_BASE}/api/URLSetup/GetIpnList", json=registrations)
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        body=fixture_text("pesapal/status_pending.json"),
        content_type="application/json",
    )
    order = http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order.json"),
        content_type="application/json",
    )

    gateway_shapes_check(gateway="pesapal", options=CheckOptions(create=True))

    sent = json.loads(order.calls[0].request.body)
    assert sent["notification_id"] == registrations[1]["ipn_id"]


def test_a_refused_token_stops_the_calls_and_reports_the_shape(http, pesapal_settings):
    http.post(
        f"{PESAPAL_BASE}/api/Auth/RequestToken",
        body=fixture_text("pesapal/request_token_invalid.json"),
        content_type="application/json",
    )

    report = gateway_shapes_check(gateway="pesapal")

    assert not report.agrees
    assert "pesapal RequestToken: field token: expected string, got null" in report.differences
    assert report.stopped == "RequestToken: no token in the answer, so no other call was made"
    assert report.summary().startswith("pesapal: ")
    assert report.summary().endswith(
        "; stopped at RequestToken: no token in the answer, so no other call was made"
    )


def test_an_unreachable_gateway_stops_with_its_host(pesapal_settings):
    pesapal_settings.PESAPAL_BASE_URL = "http://127.0.0.1:9/pesapalv3"

    report = gateway_shapes_check(gateway="pesapal")

    assert report.results == []
    assert report.summary() == (
        "pesapal: stopped at RequestToken: could not reach 127.0.0.1:9: ConnectionError"
    )


def test_azampay_asks_for_a_token_and_a_made_up_transaction(http, azampay_settings):
    token = fixture_json("azampay/token.json")["data"]["accessToken"]
    http.post(
        f"{AZAMPAY_AUTH}/AppRegistration/GenerateToken",
        body=fixture_text("azampay/token.json"),
        content_type="application/json",
        match=[
            matchers.header_matcher({"X-API-Key": "test-api-key"}),
            matchers.json_params_matcher(
                {
                    "appName": "wetech",
                    "clientId": "test-client-id",
                    "clientSecret": "test-client-secret",
                }
            ),
        ],
    )
    status = http.get(
        f"{AZAMPAY_CHECKOUT}/api/v1/partner/gettransactionstatus",
        status=404,
        json={"data": None, "message": "Not found.", "success": False, "statusCode": 404},
        match=[matchers.header_matcher({"Authorization": f"Bearer {token}"})],
    )

    report = gateway_shapes_check(gateway="azampay", options=CheckOptions(provider="Mpesa"))

    assert report.lines() == [
        "azampay GenerateToken: HTTP 200, agrees",
        "azampay GetTransactionStatus (unknown transaction): HTTP 404, agrees",
    ]
    assert status.calls[0].request.params["provider"] == "Mpesa"


def test_azampay_create_pushes_the_smallest_amount_to_the_given_number(http, azampay_settings):
    http.post(
        f"{AZAMPAY_AUTH}/AppRegistration/GenerateToken",
        body=fixture_text("azampay/token.json"),
        content_type="application/json",
    )
    http.get(
        f"{AZAMPAY_CHECKOUT}/api/v1/partner/gettransactionstatus",
        body=fixture_text("azampay/status_pending.json"),
        content_type="application/json",
        match=[matchers.query_param_matcher({"transactionId": "known"}, strict_match=False)],
    )
    checkout = http.post(
        f"{AZAMPAY_CHECKOUT}/azampay/mno/checkout",
        body=fixture_text("azampay/mno_checkout.json"),
        content_type="application/json",
    )
    created = fixture_json("azampay/mno_checkout.json")["transactionId"]
    http.get(
        f"{AZAMPAY_CHECKOUT}/api/v1/partner/gettransactionstatus",
        body=fixture_text("azampay/status_pending.json"),
        content_type="application/json",
        match=[matchers.query_param_matcher({"transactionId": created}, strict_match=False)],
    )

    report = gateway_shapes_check(
        gateway="azampay",
        options=CheckOptions(create=True, transaction_id="known", phone="255712345678"),
    )

    sent = json.loads(checkout.calls[0].request.body)
    assert report.agrees
    assert sent.pop("externalId").startswith("CHECK-")
    assert sent == {
        "accountNumber": "255712345678",
        "amount": "1000",
        "currency": "TZS",
        "provider": "Azampesa",
    }


@pytest.mark.parametrize(
    ("gateway", "options", "message"),
    [
        ("stripe", CheckOptions(), "unknown gateway 'stripe' (known: pesapal, azampay)"),
        ("azampay", CheckOptions(create=True), "an AzamPay order needs --phone 255XXXXXXXXX"),
        ("azampay", CheckOptions(provider="Vodacom"), "provider must be one of Airtel, Tigo"),
    ],
)
def test_a_wrong_request_sends_nothing(http, azampay_settings, gateway, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gateway_shapes_check(gateway=gateway, options=options)


def test_a_gateway_without_its_settings_is_refused_by_name(http, settings):
    settings.AZAMPAY_CLIENT_ID = ""
    settings.AZAMPAY_CLIENT_SECRET = ""

    with pytest.raises(
        ValueError, match=r"^not configured: set AZAMPAY_APP_NAME, AZAMPAY_CLIENT_ID,"
    ):
        gateway_shapes_check(gateway="azampay")
