from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache

from sandbox import credentials
from sandbox.testing import pesapal_refund_approve
from wetech.payments.gateways.base import GatewayMisconfigured, GatewayRejected, PaymentStatus
from wetech.payments.gateways.pesapal import (
    BillingAddress,
    OrderRequest,
    PesapalClient,
    get_pesapal_client,
)

from .conftest import press

pytestmark = pytest.mark.django_db(transaction=True)


def order(capture, notification_id, reference="WT-2026-00042-A1", **changes):
    values = {
        "merchant_reference": reference,
        "amount": Decimal("413000.00"),
        "currency": "TZS",
        "description": "Website starter package",
        "callback_url": f"{capture.url}/payments/pesapal/callback/",
        "notification_id": notification_id,
        "billing": BillingAddress(
            email="asha@example.co.tz", phone="", first_name="Asha", last_name="Mushi"
        ),
    }
    return OrderRequest(**{**values, **changes})


@pytest.fixture
def client(simulator):
    return get_pesapal_client()


@pytest.fixture
def ipn(client, capture):
    return client.ensure_ipn(f"{capture.url}/payments/pesapal/ipn/")


def test_pay_redirects_to_the_callback_fires_the_ipn_and_completes(simulator, client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))
    assert session.redirect_url == (
        f"{simulator.url}/sandbox/pesapal/pay/{session.order_tracking_id}/"
    )
    pending = client.get_transaction_status(session.order_tracking_id)
    assert pending.status == PaymentStatus.PENDING
    assert pending.raw["error"]["code"] == "payment_details_not_found"
    assert pending.raw["status"] == "500"

    answer = press(session.redirect_url, "pay")

    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{capture.url}/payments/pesapal/callback/"
    )
    assert parse_qs(location.query) == {
        "OrderTrackingId": [session.order_tracking_id],
        "OrderMerchantReference": ["WT-2026-00042-A1"],
        "OrderNotificationType": ["CALLBACKURL"],
    }
    notification = capture.next()
    assert (notification.method, notification.path) == ("GET", "/payments/pesapal/ipn/")
    assert notification.query == {
        "OrderTrackingId": session.order_tracking_id,
        "OrderMerchantReference": "WT-2026-00042-A1",
        "OrderNotificationType": "IPNCHANGE",
    }
    status = client.get_transaction_status(session.order_tracking_id)
    assert status.status == PaymentStatus.COMPLETED
    assert status.amount == Decimal("413000.00")
    assert (status.currency, status.merchant_reference) == ("TZS", "WT-2026-00042-A1")
    assert status.confirmation_code.startswith("SIM")
    assert status.raw["payment_status_description"] == "Completed"
    assert status.raw["error"] == {
        "error_type": None,
        "code": None,
        "message": None,
        "call_back_url": None,
    }
    assert status.raw["status"] == "200"


def test_a_post_ipn_carries_a_pascal_case_json_body(client, capture):
    registration = client.register_ipn(f"{capture.url}/payments/pesapal/ipn/", "POST")
    session = client.submit_order(order(capture, registration.ipn_id))

    press(session.redirect_url, "pay")

    notification = capture.next()
    assert notification.method == "POST"
    assert notification.json() == {
        "OrderTrackingId": session.order_tracking_id,
        "OrderMerchantReference": "WT-2026-00042-A1",
        "OrderNotificationType": "IPNCHANGE",
    }


def test_fail_and_cancel_are_failed_payments(client, capture, ipn):
    declined = client.submit_order(order(capture, ipn.ipn_id, reference="WT-1-A1"))
    cancelled = client.submit_order(
        order(
            capture,
            ipn.ipn_id,
            reference="WT-1-A2",
            cancellation_url=f"{capture.url}/invoices/abc/",
        )
    )

    assert press(declined.redirect_url, "fail").status_code == 303
    answer = press(cancelled.redirect_url, "cancel")

    assert answer.headers["Location"].startswith(f"{capture.url}/invoices/abc/?OrderTrackingId=")
    first = client.get_transaction_status(declined.order_tracking_id)
    second = client.get_transaction_status(cancelled.order_tracking_id)
    assert (first.status, second.status) == (PaymentStatus.FAILED, PaymentStatus.FAILED)
    assert second.raw["payment_status_code"] == "request_terminated_by_user"


def test_a_settled_order_cannot_be_paid_again(client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))
    press(session.redirect_url, "fail")

    page = requests.get(session.redirect_url, timeout=5)
    press(session.redirect_url, "pay")

    assert "can no longer be paid" in page.text
    assert client.get_transaction_status(session.order_tracking_id).status == PaymentStatus.FAILED


def _paid(client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))
    press(session.redirect_url, "pay")
    capture.next()
    return session, client.get_transaction_status(session.order_tracking_id)


def test_a_refund_waits_for_the_merchants_approval_then_reverses_and_notifies(client, capture, ipn):
    session, paid = _paid(client, capture, ipn)

    with pytest.raises(GatewayRejected):
        client.refund(
            confirmation_code=paid.confirmation_code,
            amount=Decimal("500000"),
            username="staff",
            remarks="too much",
        )
    message = client.refund(
        confirmation_code=paid.confirmation_code,
        amount=paid.amount,
        username="staff@wetech.co.tz",
        remarks="Service cancelled",
    )

    assert message == "Refund request successfully"
    assert (
        client.get_transaction_status(session.order_tracking_id).status == PaymentStatus.COMPLETED
    )
    assert capture.requests.empty()
    with pytest.raises(GatewayRejected, match="already requested"):
        client.refund(
            confirmation_code=paid.confirmation_code,
            amount=paid.amount,
            username="staff@wetech.co.tz",
            remarks="Twice",
        )

    pesapal_refund_approve(paid.confirmation_code)

    notification = capture.next()
    assert notification.query == {
        "OrderTrackingId": session.order_tracking_id,
        "OrderMerchantReference": "WT-2026-00042-A1",
        "OrderNotificationType": "IPNCHANGE",
    }
    reversed_ = client.get_transaction_status(session.order_tracking_id)
    assert reversed_.status == PaymentStatus.REVERSED
    assert reversed_.raw["payment_status_description"] == "Reversed"


def test_the_sandbox_control_url_approves_a_queued_refund_once(simulator, client, capture, ipn):
    session, paid = _paid(client, capture, ipn)
    url = f"{simulator.url}/sandbox/pesapal/control/refunds/{paid.confirmation_code}/approve/"
    nothing_queued = requests.post(url, timeout=5)
    client.refund(
        confirmation_code=paid.confirmation_code,
        amount=paid.amount,
        username="staff@wetech.co.tz",
        remarks="Service cancelled",
    )

    approved = requests.post(url, timeout=5)
    again = requests.post(url, timeout=5)

    assert nothing_queued.status_code == 404
    assert approved.status_code == 200
    assert approved.json() == {
        "status": "200",
        "message": "Refund approved",
        "order_tracking_id": session.order_tracking_id,
        "payment_status_description": "Reversed",
    }
    assert again.status_code == 404
    assert capture.next().query["OrderNotificationType"] == "IPNCHANGE"
    assert client.get_transaction_status(session.order_tracking_id).status == PaymentStatus.REVERSED


def test_approving_a_refund_nobody_asked_for_is_an_error(client, capture, ipn):
    _, paid = _paid(client, capture, ipn)

    with pytest.raises(LookupError, match="awaits approval"):
        pesapal_refund_approve(paid.confirmation_code)
    with pytest.raises(LookupError):
        pesapal_refund_approve("SIM-NO-SUCH-CODE")
    assert client.get_transaction_status(paid.order_tracking_id).status == PaymentStatus.COMPLETED


def test_cancel_order_makes_a_pending_order_invalid(client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))

    assert client.cancel_order(session.order_tracking_id) == "Order cancelled successfully"
    assert client.get_transaction_status(session.order_tracking_id).status == PaymentStatus.INVALID
    with pytest.raises(GatewayRejected):
        client.cancel_order(session.order_tracking_id)


def test_ensure_ipn_reuses_the_registration(client, capture, ipn):
    again = client.ensure_ipn(f"{capture.url}/payments/pesapal/ipn/")

    assert again.ipn_id == ipn.ipn_id
    assert len(client.list_ipns()) == 1


def test_a_merchant_reference_is_accepted_once(client, capture, ipn):
    client.submit_order(order(capture, ipn.ipn_id))

    with pytest.raises(GatewayRejected, match="unique"):
        client.submit_order(order(capture, ipn.ipn_id))


def test_an_unregistered_notification_id_is_refused(client, capture):
    with pytest.raises(GatewayRejected, match="notification_id"):
        client.submit_order(order(capture, "not-registered"))


def test_a_token_the_simulator_forgot_is_refreshed_once(client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))
    cache.delete(f"gateway-simulator:pesapal-token:{client.request_token()}")

    assert client.get_transaction_status(session.order_tracking_id).status == PaymentStatus.PENDING


def test_wrong_credentials_are_misconfiguration(simulator):
    client = PesapalClient(
        base_url=f"{simulator.url}/sandbox/pesapal",
        consumer_key=credentials.PESAPAL_CONSUMER_KEY,
        consumer_secret="wrong",
    )

    with pytest.raises(GatewayMisconfigured, match="invalid_consumer_key_or_secret_provided"):
        client.request_token()


def test_an_auth_error_answered_with_http_500_is_misconfiguration_not_an_outage(simulator, caplog):
    token_url = f"{simulator.url}/sandbox/pesapal/api/Auth/RequestToken"
    raw = requests.post(
        token_url,
        json={
            "consumer_key": credentials.PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500,
            "consumer_secret": credentials.PESAPAL_CONSUMER_SECRET,
        },
        timeout=5,
    )
    client = PesapalClient(
        base_url=f"{simulator.url}/sandbox/pesapal",
        consumer_key=credentials.PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500,
        consumer_secret=credentials.PESAPAL_CONSUMER_SECRET,
    )

    with pytest.raises(GatewayMisconfigured, match="invalid_consumer_key_or_secret_provided"):
        client.request_token()

    assert raw.status_code == 500
    assert raw.json() == {
        "token": None,
        "expiryDate": "0001-01-01T00:00:00",
        "message": "Invalid consumer key or secret provided",
        "error": {
            "error_type": "api_error",
            "code": "invalid_consumer_key_or_secret_provided",
            "message": "",
        },
        "status": "500",
    }
    # One answer, not retried: the gateway's own error document is an answer, not an outage.
    asked = [r for r in caplog.records if getattr(r, "action", "") == "RequestToken"]
    assert [r.http_status for r in asked] == [500]


def test_calls_without_a_valid_token_get_the_auth_error(simulator):
    answer = requests.get(
        f"{simulator.url}/sandbox/pesapal/api/URLSetup/GetIpnList",
        headers={"Authorization": "Bearer made-up"},
        timeout=5,
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["error_type"] == "authentication_error"


def test_the_hosted_page_is_labelled_and_has_no_inline_styles(client, capture, ipn):
    session = client.submit_order(order(capture, ipn.ipn_id))

    page = requests.get(session.redirect_url, timeout=5)

    assert "Simulator" in page.text
    assert "413,000.00" in page.text
    assert "style=" not in page.text and "<script" not in page.text
