"""Builders and fake gateway clients shared by the payment tests (plain functions and classes).

The fakes stand in for the HTTP clients only and speak their dataclasses (`pesapal.py`,
`azampay.py`), so the gateways' own translation (`PesapalGateway`, `AzamPayGateway`) and the
whole pipeline run exactly as with the real clients; the real clients' HTTP is covered by the
gateway tests and by the end-to-end tests against the simulators.
"""

import threading
import uuid
from decimal import Decimal

from sandbox.testing import simulator_settings
from wetech.models import Client, Invoice, InvoiceLine, PaymentAttempt
from wetech.payments.gateways.azampay import AzamPayStatus, MnoCheckout
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.gateways.pesapal import OrderSession, TransactionStatus
from wetech.sales.invoicing import invoice_issue


def issued_invoice(
    *, unit_price=Decimal("350000"), email="asha@example.co.tz", language="en"
) -> Invoice:
    """An issued invoice; 350,000 + 18% VAT = TZS 413,000.00, in the customer's `language`."""
    client, _ = Client.objects.get_or_create(
        email=email, defaults={"name": "Asha Mwinyi", "phone": "+255712345678"}
    )
    invoice = Invoice.objects.create(
        client=client,
        client_name="Asha Mwinyi",
        client_email=email,
        client_phone="+255712345678",
        tax_rate=Decimal("0.18"),
        language=language,
    )
    InvoiceLine.objects.create(invoice=invoice, description="Website", unit_price=unit_price)
    return invoice_issue(invoice=invoice)


def configure_gateways(settings, base_url: str = "http://testserver", **overrides) -> None:
    """Both gateways configured (pointing at a simulator under `base_url`)."""
    values = {**simulator_settings(base_url), "AZAMPAY_STATUS_QUERY": False, **overrides}
    for name, value in values.items():
        setattr(settings, name, value)
    settings.STAFF_EMAILS = ["accounts@wetech.co.tz"]


def pesapal_status(
    attempt: PaymentAttempt, status=PaymentStatus.COMPLETED, **changes
) -> TransactionStatus:
    fields = {
        "order_tracking_id": attempt.gateway_reference,
        "merchant_reference": attempt.merchant_reference,
        "status": status,
        "amount": attempt.amount if status != PaymentStatus.PENDING else Decimal("0"),
        "currency": attempt.currency,
        "confirmation_code": "PSP123ABC" if status == PaymentStatus.COMPLETED else "",
        "payment_method": "MpesaTZ" if status == PaymentStatus.COMPLETED else "",
        "payment_account": "",
        "description": "",
        "raw": {},
    }
    fields.update(changes)
    return TransactionStatus(**fields)


class FakePesapal:
    """A thread-safe stand-in for PesapalClient: orders, statuses and calls, in memory."""

    gateway = "pesapal"

    def __init__(self):
        self._lock = threading.Lock()
        self.orders = []
        self.cancelled = []
        self.status_calls = []
        self.statuses = {}
        self.submit_error = None
        self.refunds = []
        self.refund_error = None

    def submit_order(self, order):
        if self.submit_error is not None:
            raise self.submit_error
        tracking_id = str(uuid.uuid4())
        with self._lock:
            self.orders.append(order)
        return OrderSession(
            order_tracking_id=tracking_id,
            merchant_reference=order.merchant_reference,
            redirect_url=f"https://pay.example/iframe?OrderTrackingId={tracking_id}",
        )

    def answer(self, attempt: PaymentAttempt, status=PaymentStatus.COMPLETED, **changes) -> None:
        attempt.refresh_from_db()
        self.statuses[attempt.gateway_reference] = pesapal_status(attempt, status, **changes)

    def fail_with(self, attempt: PaymentAttempt, error: Exception) -> None:
        attempt.refresh_from_db()
        self.statuses[attempt.gateway_reference] = error

    def get_transaction_status(self, order_tracking_id):
        with self._lock:
            self.status_calls.append(order_tracking_id)
        answer = self.statuses.get(order_tracking_id)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            return TransactionStatus(
                order_tracking_id=order_tracking_id,
                merchant_reference="",
                status=PaymentStatus.PENDING,
                amount=Decimal("0"),
                currency="",
                confirmation_code="",
                payment_method="",
                payment_account="",
                description="",
                raw={},
            )
        return answer

    def cancel_order(self, order_tracking_id):
        self.cancelled.append(order_tracking_id)
        return "Order cancelled successfully"

    def refund(self, *, confirmation_code, amount, username, remarks):
        with self._lock:
            self.refunds.append(
                {
                    "confirmation_code": confirmation_code,
                    "amount": amount,
                    "username": username,
                    "remarks": remarks,
                }
            )
        if self.refund_error is not None:
            raise self.refund_error
        return "Refund request successfully"


class FakeAzamPay:
    gateway = "azampay"

    def __init__(self):
        self.pushes = []
        self.statuses = {}
        self.checkout_error = None

    def mno_checkout(self, request):
        if self.checkout_error is not None:
            raise self.checkout_error
        self.pushes.append(request)
        return MnoCheckout(transaction_id=uuid.uuid4().hex, message="queued")

    def get_transaction_status(self, transaction_id, provider):
        answer = self.statuses.get(transaction_id, PaymentStatus.PENDING)
        if isinstance(answer, Exception):
            raise answer
        return AzamPayStatus(transaction_id=transaction_id, status=answer, message="", raw={})


def install_fakes(monkeypatch) -> tuple[FakePesapal, FakeAzamPay]:
    """Put in-memory clients behind the real Pesapal and AzamPay gateways."""
    pesapal, azampay = FakePesapal(), FakeAzamPay()
    monkeypatch.setattr("wetech.payments.gateways.pesapal.get_pesapal_client", lambda: pesapal)
    monkeypatch.setattr("wetech.payments.gateways.azampay.get_azampay_client", lambda: azampay)
    monkeypatch.setattr(
        "wetech.payments.gateways.pesapal.pesapal_notification_id", lambda: "ipn-0000-test"
    )
    return pesapal, azampay


def azampay_callback_body(attempt: PaymentAttempt, *, status="success", **changes) -> dict:
    """The captured real callback's field set (gateways.md B6)."""
    attempt.refresh_from_db()
    body = {
        "message": "success" if status == "success" else "The customer declined the payment",
        "transactionstatus": status,
        "operator": attempt.provider or "Mpesa",
        "reference": attempt.gateway_reference,
        "externalreference": attempt.gateway_reference,
        "transid": attempt.gateway_reference,
        "utilityref": attempt.merchant_reference,
        "amount": str(int(attempt.amount)),
        "msisdn": "255712345678",
        "mnoreference": "MNO12345",
    }
    body.update(changes)
    return body
