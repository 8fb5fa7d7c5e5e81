import json
from decimal import Decimal

import pytest
import requests
from responses import matchers

from wetech.payments.gateways.base import (
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayRejected,
    PaymentStatus,
    RefundAccepted,
    RefundRequestData,
)
from wetech.payments.gateways.pesapal import (
    BillingAddress,
    OrderRequest,
    PesapalGateway,
    is_mobile_money,
)

from .conftest import PESAPAL_BASE, add_pesapal_token, fixture_json, fixture_text

TOKEN = fixture_json("pesapal/request_token.json")["token"]
TRACKING_ID = "c8b0e0fb-23f0-44dc-b79b-dd751b446913"
IPN_URL = "https://wetech.example/payments/pesapal/ipn/"


@pytest.fixture(autouse=True)
def _before_the_token_expires(time_machine):
    # The recorded token expires 2024-03-18T08:23:21Z.
    time_machine.move_to("2024-03-18T07:30:00Z", tick=False)


def order(**changes):
    values = {
        "merchant_reference": "WT-2026-00042-A1",
        "amount": Decimal("413000.00"),
        "currency": "TZS",
        "description": "Website starter package",
        "callback_url": "https://wetech.example/payments/pesapal/callback/",
        "notification_id": "608fe0d3-4901-47e9-a2cb-dd754940a155",
        "billing": BillingAddress(
            email="asha@example.co.tz",
            phone="+255712345678",
            first_name="Asha",
            last_name="Mushi",
        ),
    }
    return OrderRequest(**{**values, **changes})


def body_of(call):
    return json.loads(call.request.body)


def assert_authorised_json(call):
    headers = call.request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"


def test_request_token_posts_the_consumer_credentials(http, pesapal):
    add_pesapal_token(http)

    assert pesapal.request_token() == TOKEN

    call = http.calls[0]
    assert call.request.url == f"{PESAPAL_BASE}/api/Auth/RequestToken"
    assert body_of(call) == {
        "consumer_key": "test-consumer-key",
        "consumer_secret": "test-consumer-secret",
    }
    assert "Authorization" not in call.request.headers
    assert call.request.headers["Content-Type"] == "application/json"


def test_wrong_credentials_are_misconfiguration(http, pesapal):
    add_pesapal_token(http, "pesapal/request_token_invalid.json")

    with pytest.raises(GatewayMisconfigured, match="invalid_consumer_key_or_secret_provided"):
        pesapal.request_token()


def test_register_ipn(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/URLSetup/RegisterIPN",
        body=fixture_text("pesapal/register_ipn.json"),
        content_type="application/json",
    )

    registration = pesapal.register_ipn(IPN_URL)

    call = http.calls[1]
    assert_authorised_json(call)
    assert body_of(call) == {"url": IPN_URL, "ipn_notification_type": "GET"}
    assert registration.ipn_id == "608fe0d3-4901-47e9-a2cb-dd754940a155"
    assert registration.notification_type == "GET"
    assert registration.raw["ipn_status_decription"] == "Active"


def test_register_ipn_refuses_an_unknown_method(pesapal):
    with pytest.raises(ValueError):
        pesapal.register_ipn(IPN_URL, notification_type="PUT")


def test_list_ipns(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list.json"),
        content_type="application/json",
    )

    registrations = pesapal.list_ipns()

    assert_authorised_json(http.calls[1])
    assert [r.url for r in registrations] == ["https://old.wetech.example/pesapal/ipn", IPN_URL]


def test_ensure_ipn_reuses_a_registration_of_the_same_url(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list.json"),
        content_type="application/json",
    )

    registration = pesapal.ensure_ipn(IPN_URL)

    assert registration.ipn_id == "608fe0d3-4901-47e9-a2cb-dd754940a155"
    assert len(http.calls) == 2  # token + list; nothing registered


def test_ensure_ipn_registers_when_the_url_is_new(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/URLSetup/GetIpnList",
        body=fixture_text("pesapal/ipn_list_empty.json"),
        content_type="application/json",
    )
    http.post(
        f"{PESAPAL_BASE}/api/URLSetup/RegisterIPN",
        body=fixture_text("pesapal/register_ipn.json"),
        content_type="application/json",
        match=[matchers.json_params_matcher({"url": IPN_URL, "ipn_notification_type": "GET"})],
    )

    assert pesapal.ensure_ipn(IPN_URL).ipn_id == "608fe0d3-4901-47e9-a2cb-dd754940a155"


def test_submit_order_sends_the_documented_body(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order.json"),
        content_type="application/json",
    )

    session = pesapal.submit_order(order(cancellation_url="https://wetech.example/invoices/abc/"))

    call = http.calls[1]
    assert call.request.url == f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest"
    assert_authorised_json(call)
    assert body_of(call) == {
        "id": "WT-2026-00042-A1",
        "currency": "TZS",
        "amount": 413000.0,
        "description": "Website starter package",
        "callback_url": "https://wetech.example/payments/pesapal/callback/",
        "notification_id": "608fe0d3-4901-47e9-a2cb-dd754940a155",
        "billing_address": {
            "email_address": "asha@example.co.tz",
            "phone_number": "+255712345678",
            "country_code": "TZ",
            "first_name": "Asha",
            "middle_name": "",
            "last_name": "Mushi",
            "line_1": "",
            "line_2": "",
            "city": "",
            "state": "",
            "postal_code": "",
            "zip_code": "",
        },
        "cancellation_url": "https://wetech.example/invoices/abc/",
    }
    assert b'"amount": 413000.0' in call.request.body
    assert session.order_tracking_id == TRACKING_ID
    assert session.merchant_reference == "WT-2026-00042-A1"
    assert session.redirect_url.endswith(f"OrderTrackingId={TRACKING_ID}")


def test_submit_order_sends_cents_exactly(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order.json"),
        content_type="application/json",
    )

    pesapal.submit_order(order(amount=Decimal("1234567.89")))

    assert b'"amount": 1234567.89' in http.calls[1].request.body


def test_submit_order_error_on_http_200_is_a_rejection(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order_error.json"),
        content_type="application/json",
    )

    with pytest.raises(GatewayRejected) as caught:
        pesapal.submit_order(order())

    assert caught.value.code == "invalid_currency"
    assert caught.value.message == "The currency TZS is not enabled for this merchant"


def test_submit_order_read_timeout_is_outcome_unknown_and_not_resent(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=requests.exceptions.ReadTimeout(),
    )

    with pytest.raises(GatewayOutcomeUnknown):
        pesapal.submit_order(order())

    assert len(http.calls) == 2


def test_submit_order_without_a_tracking_id_is_outcome_unknown(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        json={"error": None, "status": "200"},
    )

    with pytest.raises(GatewayOutcomeUnknown):
        pesapal.submit_order(order())


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_reference": "WT 42"},
        {"merchant_reference": "x" * 51},
        {"amount": Decimal("0")},
        {"billing": BillingAddress(email="", phone="", first_name="A", last_name="B")},
    ],
)
def test_submit_order_refuses_bad_input_before_calling(pesapal, changes):
    with pytest.raises(ValueError):
        pesapal.submit_order(order(**changes))


def test_order_amount_must_be_decimal():
    with pytest.raises(TypeError):
        order(amount=413000.0)


def test_long_descriptions_are_cut_to_100_characters(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/SubmitOrderRequest",
        body=fixture_text("pesapal/submit_order.json"),
        content_type="application/json",
    )

    pesapal.submit_order(order(description="d" * 150))

    assert body_of(http.calls[1])["description"] == "d" * 100


def add_status(http, fixture):
    return http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        body=fixture_text(fixture),
        content_type="application/json",
        match=[matchers.query_param_matcher({"orderTrackingId": TRACKING_ID})],
    )


def test_status_completed(http, pesapal):
    add_pesapal_token(http)
    add_status(http, "pesapal/status_completed.json")

    status = pesapal.get_transaction_status(TRACKING_ID)

    call = http.calls[1]
    assert call.request.url == (
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus?orderTrackingId={TRACKING_ID}"
    )
    assert_authorised_json(call)
    assert status.status == PaymentStatus.COMPLETED
    assert status.amount == Decimal("413000.00")
    assert str(status.amount) == "413000.00"
    assert status.currency == "TZS"
    assert status.merchant_reference == "WT-2026-00042-A1"
    assert status.confirmation_code == "6513008693186320103009"
    assert status.payment_method == "Visa"
    assert status.payment_account == "476173**0010"
    assert status.raw["payment_status_description"] == "Completed"


def test_status_pending_quirk_is_pending_not_invalid(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        body=fixture_text("pesapal/status_pending.json"),
        content_type="application/json",
    )

    status = pesapal.get_transaction_status("96a5e1d9-f711-4423-82ce-dd758f972713")

    assert status.status == PaymentStatus.PENDING
    assert status.amount == Decimal("10.00")
    assert status.currency == "KES"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("pesapal/status_failed.json", PaymentStatus.FAILED),
        ("pesapal/status_reversed.json", PaymentStatus.REVERSED),
    ],
)
def test_status_terminal_states(http, pesapal, fixture, expected):
    add_pesapal_token(http)
    add_status(http, fixture)

    assert pesapal.get_transaction_status(TRACKING_ID).status == expected


def test_status_zero_without_the_pending_error_is_invalid(http, pesapal):
    add_pesapal_token(http)
    payload = fixture_json("pesapal/status_completed.json") | {
        "status_code": 0,
        "payment_status_description": "INVALID",
    }
    http.get(f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus", json=payload)

    assert pesapal.get_transaction_status(TRACKING_ID).status == PaymentStatus.INVALID


def test_status_description_casing_is_ignored_when_there_is_no_code(http, pesapal):
    add_pesapal_token(http)
    payload = fixture_json("pesapal/status_completed.json")
    del payload["status_code"]
    payload["payment_status_description"] = "COMPLETED"
    http.get(f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus", json=payload)

    assert pesapal.get_transaction_status(TRACKING_ID).status == PaymentStatus.COMPLETED


def test_status_of_an_unknown_order_is_a_rejection(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        json={
            "error": {"type": "api_error", "code": "invalid_order_tracking_id", "message": "No"},
            "status": "500",
        },
    )

    with pytest.raises(GatewayRejected) as caught:
        pesapal.get_transaction_status(TRACKING_ID)

    assert caught.value.code == "invalid_order_tracking_id"


def test_status_error_answered_with_http_500_json_is_read_not_retried(http, pesapal):
    add_pesapal_token(http)
    http.get(
        f"{PESAPAL_BASE}/api/Transactions/GetTransactionStatus",
        body=fixture_text("pesapal/status_pending.json"),
        status=500,
        content_type="application/json",
    )

    assert pesapal.get_transaction_status(TRACKING_ID).status == PaymentStatus.PENDING
    assert len(http.calls) == 2


def test_refund(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/RefundRequest",
        body=fixture_text("pesapal/refund_ok.json"),
        content_type="application/json",
    )

    message = pesapal.refund(
        confirmation_code="6513008693186320103009",
        amount=Decimal("413000"),
        username="staff@wetech.co.tz",
        remarks="Service cancelled",
    )

    call = http.calls[1]
    assert_authorised_json(call)
    assert body_of(call) == {
        "confirmation_code": "6513008693186320103009",
        "amount": "413000.00",
        "username": "staff@wetech.co.tz",
        "remarks": "Service cancelled",
    }
    assert message == "Refund request successfully"


def test_refund_rejected(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/RefundRequest",
        body=fixture_text("pesapal/refund_rejected.json"),
        content_type="application/json",
    )

    with pytest.raises(GatewayRejected, match="exceeds"):
        pesapal.refund(confirmation_code="x", amount=Decimal("1"), username="u", remarks="r")


def test_cancel_order(http, pesapal):
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/CancelOrder",
        body=fixture_text("pesapal/cancel_ok.json"),
        content_type="application/json",
        match=[matchers.json_params_matcher({"order_tracking_id": TRACKING_ID})],
    )

    assert pesapal.cancel_order(TRACKING_ID) == "Order cancelled successfully"
    assert_authorised_json(http.calls[1])


def test_nothing_secret_is_logged(http, pesapal, caplog):
    add_pesapal_token(http)
    add_status(http, "pesapal/status_completed.json")

    pesapal.get_transaction_status(TRACKING_ID)

    for secret in (TOKEN, "test-consumer-secret", "test-consumer-key", "476173**0010"):
        assert secret not in caplog.text


# --- refunds through the gateway interface --------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "mobile"),
    [
        ("MpesaKE", True),
        ("MpesaTZ", True),
        ("M-Pesa", True),
        ("Airtel Money", True),
        ("TigoPesaTZ", True),
        ("Mixx by Yas", True),
        ("HaloPesa", True),
        ("Visa", False),
        ("MasterCard", False),
        ("", False),
    ],
)
def test_mobile_money_is_read_from_pesapals_payment_method_words(word, mobile):
    assert is_mobile_money(word) is mobile


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, ""),
        ({"amount": Decimal("100.00")}, ""),  # a card may be refunded in part
        ({"amount": Decimal("0")}, "a refund must be more than nothing"),
        ({"amount": Decimal("413000.01")}, "Pesapal cannot refund more than it collected"),
        ({"confirmation_code": ""}, "Pesapal gave no confirmation code for this payment"),
        ({"earlier_refunds": 1}, "Pesapal refunds a payment once, and this one already has"),
        ({"payment_method": "MpesaTZ", "amount": Decimal("100.00")}, "in full only"),
        ({"payment_method": "MpesaTZ"}, ""),
    ],
)
def test_pesapal_refund_rules(changes, problem):
    values = {
        "payment_method": "Visa",
        "amount": Decimal("413000.00"),
        "collected": Decimal("413000.00"),
        "confirmation_code": "6513008693186320103009",
        "earlier_refunds": 0,
        **changes,
    }
    found = PesapalGateway().refund_problem(**values)
    assert problem in found if problem else found == ""


def test_the_gateway_sends_the_refund_request(http, settings):
    settings.PESAPAL_BASE_URL = PESAPAL_BASE
    settings.PESAPAL_CONSUMER_KEY = "test-consumer-key"
    settings.PESAPAL_CONSUMER_SECRET = "test-consumer-secret"
    add_pesapal_token(http)
    http.post(
        f"{PESAPAL_BASE}/api/Transactions/RefundRequest",
        body=fixture_text("pesapal/refund_ok.json"),
        content_type="application/json",
    )
    gateway = PesapalGateway()

    accepted = gateway.request_refund(
        RefundRequestData(
            merchant_reference="WT-2026-00042-A1",
            gateway_reference=TRACKING_ID,
            confirmation_code="6513008693186320103009",
            amount=Decimal("413000"),
            currency="TZS",
            username="amina",
            remarks="Service cancelled",
            refund_reference="WT-2026-00042-RF00000001",
        )
    )

    assert gateway.supports_refund_api is True
    assert accepted == RefundAccepted(message="Refund request successfully")
    assert body_of(http.calls[1]) == {
        "confirmation_code": "6513008693186320103009",
        "amount": "413000.00",
        "username": "amina",
        "remarks": "Service cancelled",
    }
