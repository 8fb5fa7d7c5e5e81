"""Starting payments: one attempt per click, whatever the gateway, never left initiated."""

from decimal import Decimal

import pytest

from wetech.models import Invoice, PaymentAttempt
from wetech.payments.gateways.base import (
    GatewayOutcomeUnknown,
    GatewayRejected,
    GatewayUnavailable,
)
from wetech.payments.start import PaymentNotAllowed, payment_start
from wetech.tests.payment_helpers import issued_invoice

Status = PaymentAttempt.Status


@pytest.fixture
def invoice(db):
    return issued_invoice()


def _started(invoice) -> PaymentAttempt:
    return payment_start(invoice=invoice, gateway="pesapal").attempt


# --- starting ---------------------------------------------------------------------------------


@pytest.mark.django_db
class TestStart:
    def test_pesapal_order_carries_our_snapshot(self, pesapal, invoice):
        attempt = _started(invoice)
        order = pesapal.orders[0]
        assert attempt.status == Status.PENDING
        assert attempt.gateway_reference and attempt.redirect_url.startswith("https://pay.example")
        assert order.merchant_reference == attempt.merchant_reference
        assert order.merchant_reference.startswith(f"{invoice.number}-")
        assert len(order.merchant_reference) <= 50
        assert order.amount == Decimal("413000.00") == attempt.amount
        assert order.currency == "TZS"
        assert order.callback_url == "http://testserver/payments/pesapal/callback/"
        assert order.notification_id == "ipn-0000-test"
        assert order.billing.email == "asha@example.co.tz"
        assert (order.billing.first_name, order.billing.last_name) == ("Asha", "Mwinyi")
        assert len(order.description) <= 100

    def test_references_are_fresh_per_attempt(self, pesapal, invoice):
        first, second = _started(invoice), _started(invoice)
        assert first.merchant_reference != second.merchant_reference

    def test_a_new_attempt_expires_and_cancels_the_old_one(self, pesapal, invoice):
        old = _started(invoice)
        new = _started(invoice)
        old.refresh_from_db()
        assert old.status == Status.EXPIRED
        assert new.status == Status.PENDING
        assert pesapal.cancelled == [old.gateway_reference]

    @pytest.mark.parametrize(
        ("error", "status"),
        [
            (GatewayUnavailable("breaker open", gateway="pesapal"), Status.FAILED),
            (GatewayRejected("invalid", gateway="pesapal"), Status.FAILED),
            (GatewayOutcomeUnknown("read timeout", gateway="pesapal"), Status.EXPIRED),
        ],
    )
    def test_pesapal_failure_never_leaves_an_initiated_attempt(
        self, pesapal, invoice, error, status
    ):
        pesapal.submit_error = error
        with pytest.raises(type(error)):
            payment_start(invoice=invoice, gateway="pesapal")
        attempt = PaymentAttempt.objects.get()
        assert attempt.status == status
        assert attempt.status_detail

    def test_azampay_push_unknown_outcome_stays_pending(self, azampay, invoice):
        azampay.checkout_error = GatewayOutcomeUnknown("timeout", gateway="azampay")
        started = payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        )
        assert started.uncertain
        assert started.attempt.status == Status.PENDING
        assert started.attempt.gateway_reference == ""

    def test_azampay_push(self, azampay, invoice):
        started = payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Tigo"
        )
        push = azampay.pushes[0]
        assert push.external_id == started.attempt.merchant_reference
        assert (push.phone, push.provider, push.amount) == (
            "+255712345678",
            "Tigo",
            Decimal("413000.00"),
        )
        assert started.attempt.payer_phone == "+255712345678"
        assert started.attempt.gateway_reference

    @pytest.mark.parametrize("status", ["paid", "void", "needs_review"])
    def test_unpayable_invoices_refuse(self, pesapal, invoice, status):
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        invoice.refresh_from_db()
        with pytest.raises(PaymentNotAllowed):
            payment_start(invoice=invoice, gateway="pesapal")
        assert not PaymentAttempt.objects.exists()
        assert pesapal.orders == []

    def test_azampay_is_not_offered_for_cents(self, azampay):
        invoice = issued_invoice(unit_price=Decimal("0.25"))  # total 0.30
        with pytest.raises(PaymentNotAllowed):
            payment_start(
                gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
            )
