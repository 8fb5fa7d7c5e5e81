"""attempt_orders_cancel: after a void (or a newer attempt) the old orders are cancelled at their
gateways, through the registry, best effort; the exact CancelOrder request Pesapal gets."""

import json

import pytest
import responses

from wetech.models import PaymentAttempt
from wetech.payments.start import attempt_orders_cancel
from wetech.tests.backoffice_helpers import (
    FIXTURES,
    PESAPAL_BASE,
    add_pesapal_cancel,
    add_pesapal_token,
    before_the_token_expires,
    pesapal_over_http,
)
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def http(settings):
    pesapal_over_http(settings)
    with before_the_token_expires(), responses.RequestsMock() as mock:
        yield mock


def attempt(invoice, *, gateway="pesapal", reference="", suffix="A"):
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway=gateway,
        merchant_reference=f"{invoice.number}-{suffix}",
        gateway_reference=reference,
        amount=invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.EXPIRED,
    )


def test_pesapal_orders_are_cancelled_and_unnamed_attempts_skipped(http):
    invoice = issued_invoice()
    named = attempt(invoice, reference="c8b0e0fb-23f0-44dc-b79b-dd751b446913", suffix="A")
    unnamed = attempt(invoice, reference="", suffix="B")
    add_pesapal_token(http)
    add_pesapal_cancel(
        http,
        "c8b0e0fb-23f0-44dc-b79b-dd751b446913",
        body=(FIXTURES / "pesapal/cancel_ok.json").read_text(),
    )

    results = attempt_orders_cancel(attempts=[named, unnamed])

    assert [(r.attempt, r.error) for r in results] == [(named, "")]
    cancel = http.calls[-1].request
    assert cancel.method == "POST"
    assert cancel.url == f"{PESAPAL_BASE}/api/Transactions/CancelOrder"
    assert json.loads(cancel.body) == {"order_tracking_id": "c8b0e0fb-23f0-44dc-b79b-dd751b446913"}


def test_a_refused_cancellation_is_reported_not_raised(http, caplog):
    invoice = issued_invoice()
    named = attempt(invoice, reference="track-1")
    add_pesapal_token(http)
    add_pesapal_cancel(http, "track-1", body='{"status":"500","message":"Order already paid"}')

    [result] = attempt_orders_cancel(attempts=[named])

    assert result.error == "Order already paid"
    assert f"pesapal order of {named.merchant_reference} not cancelled: GatewayRejected" in (
        caplog.text
    )


def test_a_push_gateway_has_nothing_to_cancel(http):
    invoice = issued_invoice()
    push = attempt(invoice, gateway="azampay", reference="azam-1")

    [result] = attempt_orders_cancel(attempts=[push])

    assert result.error == ""
    assert len(http.calls) == 0
