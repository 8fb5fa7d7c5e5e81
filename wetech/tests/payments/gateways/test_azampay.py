import json
from decimal import Decimal

import pytest
import requests
from django.http import QueryDict
from responses import matchers

from wetech.payments.gateways.azampay import (
    PROVIDERS,
    MnoCheckoutRequest,
    azampay_amount,
    callback_status,
    canonical_provider,
    normalize_msisdn,
    parse_callback,
)
from wetech.payments.gateways.base import (
    AttemptRef,
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayRejected,
    MalformedNotification,
    PaymentFinding,
    PaymentStatus,
    RefundRequestData,
)
from wetech.payments.gateways.registry import gateway_named

from .conftest import AZAMPAY_AUTH, AZAMPAY_CHECKOUT, add_azampay_token, fixture_json, fixture_text

TOKEN = fixture_json("azampay/token.json")["data"]["accessToken"]
MNO_URL = f"{AZAMPAY_CHECKOUT}/azampay/mno/checkout"
STATUS_URL = f"{AZAMPAY_CHECKOUT}/api/v1/partner/gettransactionstatus"


@pytest.fixture(autouse=True)
def _before_the_token_expires(time_machine):
    time_machine.move_to("2023-03-02T03:00:00Z", tick=False)


def push(**changes):
    values = {
        "external_id": "WT-2026-00042-A2",
        "phone": "0712 345 678",
        "amount": Decimal("413000.00"),
        "currency": "TZS",
        "provider": "Mpesa",
    }
    return MnoCheckoutRequest(**{**values, **changes})


def assert_authorised(call):
    headers = call.request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["X-API-Key"] == "test-api-key"
    assert headers["Content-Type"] == "application/json"


def test_token_request(http, azampay):
    add_azampay_token(http)

    assert azampay.request_token() == TOKEN

    call = http.calls[0]
    assert call.request.url == f"{AZAMPAY_AUTH}/AppRegistration/GenerateToken"
    assert json.loads(call.request.body) == {
        "appName": "wetech",
        "clientId": "test-client-id",
        "clientSecret": "test-client-secret",
    }
    assert call.request.headers["X-API-Key"] == "test-api-key"
    assert "Authorization" not in call.request.headers


@pytest.mark.parametrize(
    ("fixture", "status", "words"),
    [
        ("azampay/token_invalid_423.json", 423, "secret key has been expired"),
        ("azampay/token_validation_400.json", 400, "ClientSecret"),
    ],
)
def test_token_refusals_are_misconfiguration(http, azampay, fixture, status, words):
    add_azampay_token(http, fixture, status=status)

    with pytest.raises(GatewayMisconfigured, match=words):
        azampay.request_token()


def test_mno_checkout_sends_the_documented_body(http, azampay):
    add_azampay_token(http)
    http.post(MNO_URL, body=fixture_text("azampay/mno_checkout.json"))

    checkout = azampay.mno_checkout(push())

    call = http.calls[1]
    assert call.request.url == MNO_URL
    assert_authorised(call)
    assert json.loads(call.request.body) == {
        "accountNumber": "255712345678",
        "amount": "413000",
        "currency": "TZS",
        "externalId": "WT-2026-00042-A2",
        "provider": "Mpesa",
    }
    assert checkout.transaction_id == "b85e9719a7c64b8c9a0f3e1d2c3b4a59"
    assert checkout.message == "Your request has been received and is being processed."


def test_mno_checkout_null_string_transaction_id_reads_as_empty(http, azampay):
    add_azampay_token(http)
    http.post(MNO_URL, body=fixture_text("azampay/mno_checkout_null_id.json"))

    assert azampay.mno_checkout(push()).transaction_id == ""


def test_mno_checkout_validation_errors_are_rejections(http, azampay):
    add_azampay_token(http)
    http.post(MNO_URL, body=fixture_text("azampay/mno_checkout_validation_400.json"), status=400)

    with pytest.raises(GatewayRejected) as caught:
        azampay.mno_checkout(push())

    assert caught.value.code == "validation_error"
    assert "accountNumber: The accountNumber field is required." in caught.value.message


def test_mno_checkout_success_false_is_a_rejection(http, azampay):
    add_azampay_token(http)
    http.post(MNO_URL, body=fixture_text("azampay/mno_checkout_failed.json"))

    with pytest.raises(GatewayRejected, match="Provider is not enabled"):
        azampay.mno_checkout(push())


def test_mno_checkout_read_timeout_is_outcome_unknown_and_not_resent(http, azampay):
    add_azampay_token(http)
    http.post(MNO_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(GatewayOutcomeUnknown):
        azampay.mno_checkout(push())

    assert len(http.calls) == 2


def test_mno_checkout_503_is_resent(http, azampay, fake_time):
    add_azampay_token(http)
    http.post(MNO_URL, status=503)
    http.post(MNO_URL, body=fixture_text("azampay/mno_checkout.json"))

    assert azampay.mno_checkout(push()).transaction_id
    assert fake_time.sleeps == [0.25]


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "USD"},
        {"amount": Decimal("1000.50")},
        {"amount": Decimal("0")},
        {"provider": "Vodacom"},
        {"phone": "+254712345678"},
        {"external_id": ""},
        {"external_id": "x" * 129},
    ],
)
def test_mno_checkout_refuses_bad_input_before_calling(azampay, changes):
    with pytest.raises(ValueError):
        azampay.mno_checkout(push(**changes))


@pytest.mark.parametrize(
    "phone",
    ["0712345678", "712345678", "+255712345678", "255712345678", "+255 712-345-678"],
)
def test_phone_numbers_are_normalised(phone):
    assert normalize_msisdn(phone) == "255712345678"


@pytest.mark.parametrize("phone", ["", "0812345678", "25571234567", "07123456789", "abc"])
def test_non_tanzanian_mobile_numbers_are_refused(phone):
    with pytest.raises(ValueError):
        normalize_msisdn(phone)


def test_providers_use_the_exact_enum_spelling():
    assert canonical_provider("MPESA") == "Mpesa"
    assert canonical_provider(" halopesa ") == "Halopesa"
    assert [canonical_provider(p.upper()) for p in PROVIDERS] == list(PROVIDERS)


def test_amounts_are_whole_shilling_strings():
    assert azampay_amount(Decimal("413000.00")) == "413000"
    with pytest.raises(TypeError):
        azampay_amount(413000)


def test_status_query(http, azampay):
    add_azampay_token(http)
    http.get(
        STATUS_URL,
        body=fixture_text("azampay/status_pending.json"),
        match=[
            matchers.query_param_matcher(
                {"transactionId": "b85e9719a7c64b8c9a0f3e1d2c3b4a59", "provider": "Mpesa"}
            )
        ],
    )

    result = azampay.get_transaction_status("b85e9719a7c64b8c9a0f3e1d2c3b4a59", "mpesa")

    assert_authorised(http.calls[1])
    assert result.status == PaymentStatus.PENDING
    assert result.transaction_id == "b85e9719a7c64b8c9a0f3e1d2c3b4a59"


def test_status_query_success(http, azampay):
    add_azampay_token(http)
    http.get(STATUS_URL, body=fixture_text("azampay/status_success.json"))

    assert azampay.get_transaction_status("t", "Tigo").status == PaymentStatus.COMPLETED


def test_status_query_is_refused_unless_configured(azampay):
    azampay.status_query = False

    with pytest.raises(GatewayMisconfigured, match="AZAMPAY_STATUS_QUERY"):
        azampay.get_transaction_status("t", "Mpesa")


def test_parse_callback_documented_shape():
    callback = parse_callback(fixture_json("azampay/callback_documented.json"))

    assert callback.utility_ref == "WT-2026-00042-A2"
    assert callback.transaction_status == "success"
    assert callback.status == PaymentStatus.COMPLETED
    assert callback.reference == "b85e9719a7c64b8c9a0f3e1d2c3b4a59"
    assert callback.amount == Decimal("413000")
    assert callback.msisdn == "255712345678"
    assert callback.operator == "Mpesa"
    assert callback.mno_reference == "QKT4X9Y2ZP"
    assert callback.raw["additionalProperties"] == {"invoice": "WT-2026-00042"}


def test_parse_callback_captured_shape_keeps_unknown_fields():
    payload = fixture_json("azampay/callback_captured.json") | {"somethingNew": "kept"}

    callback = parse_callback(payload)

    assert callback.reference == "b85e9719a7c64b8c9a0f3e1d2c3b4a59"
    assert callback.external_reference == "b85e9719a7c64b8c9a0f3e1d2c3b4a59"
    assert callback.mno_reference == "QKT4X9Y2ZP"
    assert callback.amount == Decimal("60000")
    assert callback.raw["somethingNew"] == "kept"


def test_parse_callback_finds_the_reference_in_transid():
    payload = fixture_json("azampay/callback_captured.json")
    del payload["reference"]

    assert parse_callback(payload).reference == payload["transid"]


@pytest.mark.parametrize("word", ["failure", "failed", "cancelled", "Success", "SUCCESS", "ok"])
def test_only_exact_lowercase_success_is_success(word):
    payload = fixture_json("azampay/callback_failure.json") | {"transactionstatus": word}

    assert parse_callback(payload).status != PaymentStatus.COMPLETED


def test_parse_callback_accepts_any_key_casing_and_form_data():
    form = QueryDict(mutable=True)
    form.update({"utilityRef": "A-1", "transactionStatus": "success", "amount": "1000"})

    callback = parse_callback(form)

    assert (callback.utility_ref, callback.status, callback.amount) == (
        "A-1",
        PaymentStatus.COMPLETED,
        Decimal("1000"),
    )


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "success",
        {"transactionstatus": "success"},
        {"utilityref": "A-1"},
        {"utilityref": "A-1", "transactionstatus": "success", "amount": "lots"},
        {"utilityref": "A-1", "transactionstatus": "success", "amount": 1.5},
        {"utilityref": {"x": 1}, "transactionstatus": "success"},
    ],
)
def test_parse_callback_refuses_malformed_bodies(payload):
    with pytest.raises(ValueError):
        parse_callback(payload)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("success", PaymentStatus.COMPLETED),
        ("failure", PaymentStatus.FAILED),
        ("failed", PaymentStatus.FAILED),
        ("FAILED", PaymentStatus.FAILED),
        (" Failure ", PaymentStatus.FAILED),
        ("cancelled", PaymentStatus.FAILED),
        ("Success", PaymentStatus.PENDING),
        ("pending", PaymentStatus.PENDING),
        ("", PaymentStatus.PENDING),
    ],
)
def test_the_callback_status_table(word, status):
    assert callback_status(word) is status


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ("success", PaymentStatus.COMPLETED),
        ("Successful", PaymentStatus.COMPLETED),
        ("failed", PaymentStatus.FAILED),
        ("failure", PaymentStatus.FAILED),
        ("processing", PaymentStatus.PENDING),
        ("something new", PaymentStatus.PENDING),
    ],
)
def test_the_status_query_table(http, azampay, data, status):
    add_azampay_token(http)
    http.get(STATUS_URL, json={"data": data, "message": "ok", "success": True})

    assert azampay.get_transaction_status("t", "Mpesa").status is status


@pytest.mark.parametrize("amount", ["60000.0", "60000", '"60000"', '"60000.0"', "6E+4"])
def test_the_gateway_reads_a_callback_amount_as_an_exact_decimal(amount):
    body = fixture_text("azampay/callback_captured.json").replace('"amount":"60000"', "AMOUNT")
    body = body.replace("AMOUNT", f'"amount":{amount}')

    parsed = gateway_named("azampay").parse_notification(query_string="", body=body)

    assert parsed.finding.amount == Decimal("60000")
    assert isinstance(parsed.finding.amount, Decimal)
    assert (parsed.lookup_field, parsed.lookup_value) == ("merchant_reference", "WT-2026-00042-A2")
    assert parsed.finding.status is PaymentStatus.COMPLETED
    assert parsed.finding.currency == "TZS"


@pytest.mark.parametrize("body", ["", "nope", "[1]", '{"utilityref": "A"}', "{" * 40])
def test_an_unreadable_callback_is_malformed(body):
    with pytest.raises(MalformedNotification):
        gateway_named("azampay").parse_notification(query_string="", body=body)


def test_with_a_status_answer_it_decides_and_the_callback_supplies_what_is_checked():
    gateway = gateway_named("azampay")
    parsed = gateway.parse_notification(
        query_string="", body=fixture_text("azampay/callback_captured.json")
    )
    ref = AttemptRef(
        merchant_reference="WT-2026-00042-A2",
        gateway_reference="b85e9719a7c64b8c9a0f3e1d2c3b4a59",
        amount=Decimal("60000.00"),
        currency="TZS",
        provider="Mpesa",
    )
    queried = PaymentFinding(status=PaymentStatus.FAILED, detail="AzamPay status: failed")

    judged = gateway.judge(parsed, ref, queried)

    assert judged == PaymentFinding(
        status=PaymentStatus.FAILED,
        amount=Decimal("60000"),
        currency="TZS",
        merchant_reference="WT-2026-00042-A2",
        gateway_reference="b85e9719a7c64b8c9a0f3e1d2c3b4a59",
        confirmation_code="QKT4X9Y2ZP",
        payment_method="Mpesa",
        detail="AzamPay status: failed",
    )
    # Without an answer (off, or it failed) the callback is the finding.
    assert gateway.judge(parsed, ref, None) == parsed.finding


def test_azampay_has_no_refund_api():
    gateway = gateway_named("azampay")
    assert gateway.supports_refund_api is False
    # What staff send back by hand is bounded only by what was collected.
    assert (
        gateway.refund_problem(
            payment_method="Mpesa", amount=Decimal("100"), collected=Decimal("413000")
        )
        == ""
    )
    assert gateway.refund_problem(
        payment_method="Mpesa", amount=Decimal("413001"), collected=Decimal("413000")
    ) == ("AzamPay cannot refund more than it collected (413000)")
    request = RefundRequestData(
        merchant_reference="WT-2026-00042-A1",
        gateway_reference="tx-1",
        confirmation_code="MNO12345",
        amount=Decimal("1"),
        currency="TZS",
        username="amina",
        remarks="x",
        refund_reference="WT-2026-00042-RF00000001",
    )
    with pytest.raises(GatewayRejected, match="AzamPay has no refund API"):
        gateway.request_refund(request)
