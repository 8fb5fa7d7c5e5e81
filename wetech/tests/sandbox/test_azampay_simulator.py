from decimal import Decimal

import pytest
import requests

from sandbox import credentials
from wetech.payments.gateways.azampay import (
    AzamPayClient,
    MnoCheckoutRequest,
    get_azampay_client,
    parse_callback,
)
from wetech.payments.gateways.base import GatewayMisconfigured, PaymentStatus

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK_PATH = f"/payments/azampay/callback/{credentials.AZAMPAY_CALLBACK_SECRET}/"


@pytest.fixture
def client(simulator, settings):
    # The simulator's status endpoint is under test here; the site keeps the query off.
    settings.AZAMPAY_STATUS_QUERY = True
    return get_azampay_client()


def push(phone="0712345678", external_id="WT-2026-00042-A2"):
    return MnoCheckoutRequest(
        external_id=external_id,
        phone=phone,
        amount=Decimal("413000"),
        currency="TZS",
        provider="Mpesa",
    )


def test_the_phone_approves_and_azampay_calls_back(client, capture):
    checkout = client.mno_checkout(push())

    callback = capture.next()

    assert (callback.method, callback.path) == ("POST", CALLBACK_PATH)
    body = callback.json()
    assert set(body) == {
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
    }
    parsed = parse_callback(body)
    assert parsed.status == PaymentStatus.COMPLETED
    assert parsed.utility_ref == "WT-2026-00042-A2"
    assert parsed.reference == checkout.transaction_id
    assert parsed.amount == Decimal("413000")
    assert parsed.msisdn == "255712345678"
    assert parsed.operator == "Mpesa"
    assert (
        client.get_transaction_status(checkout.transaction_id, "Mpesa").status
        == PaymentStatus.COMPLETED
    )


@pytest.mark.parametrize(("phone", "word"), [("0712345000", "failure"), ("0712345001", "failed")])
def test_a_number_ending_in_000_or_001_declines_with_either_failure_word(
    client, capture, phone, word
):
    checkout = client.mno_checkout(push(phone=phone))

    body = capture.next().json()

    assert (body["transactionstatus"], body["message"]) == (
        word,
        "The customer declined the payment",
    )
    assert parse_callback(body).status == PaymentStatus.FAILED
    assert (
        client.get_transaction_status(checkout.transaction_id, "Mpesa").status
        == PaymentStatus.FAILED
    )


def test_a_number_ending_in_999_never_answers(client, capture):
    checkout = client.mno_checkout(push(phone="0712345999"))

    assert (
        client.get_transaction_status(checkout.transaction_id, "Mpesa").status
        == PaymentStatus.PENDING
    )
    assert capture.requests.empty()


def test_a_bad_body_gets_a_problem_document(client, simulator):
    answer = requests.post(
        f"{simulator.url}/sandbox/azampay/checkout/azampay/mno/checkout",
        json={"accountNumber": "+255712345678", "amount": "10.5", "currency": "KES"},
        headers={"Authorization": f"Bearer {client.request_token()}"},
        timeout=5,
    )

    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {
        "accountNumber",
        "amount",
        "currency",
        "externalId",
        "provider",
    }


def test_no_token_no_checkout(simulator):
    answer = requests.post(
        f"{simulator.url}/sandbox/azampay/checkout/azampay/mno/checkout", json={}, timeout=5
    )

    assert answer.status_code == 401
    assert answer.json() == {"message": "Please Provide Valid Authorization", "status": "Error"}


def test_wrong_credentials_get_423(simulator):
    client = AzamPayClient(
        auth_url=f"{simulator.url}/sandbox/azampay/auth",
        checkout_url=f"{simulator.url}/sandbox/azampay/checkout",
        app_name=credentials.AZAMPAY_APP_NAME,
        client_id=credentials.AZAMPAY_CLIENT_ID,
        client_secret="wrong",
    )

    with pytest.raises(GatewayMisconfigured, match="secret key has been expired"):
        client.request_token()


def test_the_callback_goes_to_the_first_secret_of_a_rotation_list(simulator, capture, settings):
    registered = "registered-callback-secret-0123456789abcdef"
    settings.AZAMPAY_CALLBACK_SECRET = f"{registered}, older-callback-secret-0123456789abcdef"

    get_azampay_client().mno_checkout(push())

    assert capture.next().path == f"/payments/azampay/callback/{registered}/"
