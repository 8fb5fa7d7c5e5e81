"""A third gateway, registered by the test alone, goes through the one pipeline unchanged.

"TestPay" is a hosted-page gateway whose whole world is a dict the test controls: `start`,
`query_status` and `parse_notification` answer from it, through a status table of its own
words. Nothing in the services knows it exists; if any stage were written once per gateway,
this would fail.
"""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import RequestFactory

from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt, ReviewCase
from wetech.payments.gateways.base import (
    AttemptRef,
    MalformedNotification,
    ParsedNotification,
    PaymentFinding,
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
    RefundAccepted,
    RefundRequestData,
    StartedPayment,
)
from wetech.payments.gateways.registry import configured_gateways, gateway_named, registered
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.reconcile import attempt_recheck, attempts_reconcile
from wetech.payments.refunds import refund_request
from wetech.payments.start import payment_options, payment_start
from wetech.sales.selectors import invoice_net_paid
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import issued_invoice

Status = PaymentAttempt.Status
Result = GatewayNotification.Result
ROOT = Path(__file__).resolve().parents[3]


class TestPay(PaymentGateway):
    """A hosted-page gateway living in memory. Its orders hold TestPay's own status words."""

    __test__ = False  # a gateway, not a test class

    name = "testpay"
    label = "TestPay"
    push_to_phone = False
    pending_after_unknown_start = False

    # TestPay's words, in its one table.
    STATUS_BY_WORD = {
        "open": PaymentStatus.PENDING,
        "paid": PaymentStatus.COMPLETED,
        "declined": PaymentStatus.FAILED,
        "charged_back": PaymentStatus.REVERSED,
    }

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.queries: list[AttemptRef] = []
        self.cancelled: list[str] = []

    def is_configured(self) -> bool:
        return True

    def accepts(self, *, currency: str, total: Decimal) -> bool:
        return currency == "TZS"

    def start(self, request: PaymentRequest) -> StartedPayment:
        reference = f"tp-{len(self.orders) + 1}"
        self.orders[reference] = {"request": request, "word": "open"}
        return StartedPayment(
            gateway_reference=reference,
            redirect_url=f"https://testpay.example/pay/{reference}",
            detail="Waiting for the customer on TestPay's page",
        )

    def query_status(self, ref: AttemptRef) -> PaymentFinding:
        self.queries.append(ref)
        order = self.orders[ref.gateway_reference]
        request = order["request"]
        return PaymentFinding(
            status=self.STATUS_BY_WORD[order["word"]],
            amount=request.amount,
            currency=request.currency,
            merchant_reference=request.merchant_reference,
            gateway_reference=ref.gateway_reference,
            confirmation_code="TP-CONF-1",
            payment_method="TestCard",
            detail=f"TestPay says {order['word']}",
        )

    def parse_notification(self, *, query_string: str, body: str) -> ParsedNotification:
        try:
            reference = json.loads(body)["order"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedNotification("no order") from exc
        return ParsedNotification(lookup_field="gateway_reference", lookup_value=str(reference))

    def cancel(self, gateway_reference: str) -> None:
        self.cancelled.append(gateway_reference)


@pytest.fixture
def testpay(settings):
    settings.STAFF_EMAILS = ["accounts@wetech.co.tz"]
    # Each notification below comes long after the one before: further apart than the window.
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
    with registered(TestPay()) as gateway:
        yield gateway


@pytest.fixture
def invoice(db):
    return issued_invoice()


def _notify(order: str):
    request = RequestFactory().post(
        "/payments/testpay/notify/", json.dumps({"order": order}), content_type="application/json"
    )
    notification = notification_record(gateway="testpay", kind="callback", request=request)
    return notification_process(notification=notification)


def _emails(prefix: str):
    return [m for m in delivered() if m.subject.startswith(prefix)]


@pytest.mark.django_db
def test_start_notification_settlement_duplicate_and_reversal(
    testpay, invoice, django_capture_on_commit_callbacks
):
    assert gateway_named("testpay") is testpay
    assert testpay in configured_gateways()
    assert payment_options(invoice)["testpay"] is True

    # Start: the attempt is written, the gateway called, the customer sent to its page.
    started = payment_start(invoice=invoice, gateway="testpay")
    attempt = started.attempt
    assert (attempt.gateway, attempt.status) == ("testpay", Status.PENDING)
    assert attempt.gateway_reference == "tp-1"
    assert attempt.redirect_url == "https://testpay.example/pay/tp-1"
    assert attempt.status_detail == "Waiting for the customer on TestPay's page"
    request = testpay.orders["tp-1"]["request"]
    assert (request.merchant_reference, request.amount, request.currency) == (
        attempt.merchant_reference,
        Decimal("413000.00"),
        "TZS",
    )
    assert request.payer.email == "asha@example.co.tz"

    # A notification while TestPay still says "open" changes nothing.
    assert _notify("tp-1").result == Result.IGNORED
    assert Invoice.objects.get().status == Invoice.Status.ISSUED

    # Paid: one ledger row, the invoice paid, the receipt sent.
    testpay.orders["tp-1"]["word"] = "paid"
    with django_capture_on_commit_callbacks(execute=True):
        outcome = _notify("tp-1")
    assert outcome.result == Result.APPLIED
    assert outcome.parsed.lookup_value == "tp-1"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.confirmation_code) == (Status.COMPLETED, "TP-CONF-1")
    entry = LedgerEntry.objects.get()
    assert (entry.gateway, entry.kind, entry.amount, entry.gateway_reference) == (
        "testpay",
        "payment",
        Decimal("413000.00"),
        "tp-1",
    )
    assert Invoice.objects.get().status == Invoice.Status.PAID
    receipts = _emails("Receipt")
    assert len(receipts) == 1 and receipts[0].to == ["asha@example.co.tz"]

    # The same news again: a duplicate, no second ledger row, no second receipt.
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify("tp-1").result == Result.DUPLICATE
    assert LedgerEntry.objects.count() == 1
    assert len(_emails("Receipt")) == 1

    # Charged back: a reversal row, the invoice unpaid again, staff told.
    testpay.orders["tp-1"]["word"] = "charged_back"
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify("tp-1").result == Result.APPLIED
    attempt.refresh_from_db()
    assert attempt.status == Status.REVERSED
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["payment", "reversal"]
    invoice.refresh_from_db()
    # Unpaid again, and in review while its chargeback case is open.
    assert invoice.status == Invoice.Status.NEEDS_REVIEW and invoice.paid_at is None
    assert ReviewCase.objects.get().kind == ReviewCase.Kind.REVERSAL
    assert invoice_net_paid(invoice) == Decimal("0.00")
    alerts = _emails("Action needed")
    assert len(alerts) == 1 and "reversed" in alerts[0].subject

    # Every question went out with the attempt's references, never an ORM object.
    assert testpay.queries[-1] == AttemptRef(
        merchant_reference=attempt.merchant_reference,
        gateway_reference="tp-1",
        amount=Decimal("413000.00"),
        currency="TZS",
    )
    assert set(GatewayNotification.objects.values_list("gateway", flat=True)) == {"testpay"}


@pytest.mark.django_db
def test_recheck_reconcile_replacement_and_malformed_messages(testpay, invoice):
    first = payment_start(invoice=invoice, gateway="testpay").attempt
    second = payment_start(invoice=invoice, gateway="testpay").attempt
    first.refresh_from_db()
    assert first.status == Status.EXPIRED
    assert testpay.cancelled == ["tp-1"]

    testpay.orders["tp-2"]["word"] = "paid"
    report = attempts_reconcile()
    assert (report.checked, report.changed) == (2, 1)
    second.refresh_from_db()
    assert second.status == Status.COMPLETED
    assert Invoice.objects.get().status == Invoice.Status.PAID

    testpay.orders["tp-2"]["word"] = "declined"
    settled = attempt_recheck(attempt=second, bypass_window=True)
    # A late failure never overwrites a completion.
    assert not settled.changed and settled.duplicate

    request = RequestFactory().post("/x/", "{}", content_type="application/json")
    notification = notification_record(gateway="testpay", kind="callback", request=request)
    with pytest.raises(MalformedNotification):
        notification_process(notification=notification)
    notification.refresh_from_db()
    assert notification.result == Result.REJECTED

    assert _notify("tp-999").result == Result.IGNORED


@pytest.mark.django_db
def test_the_default_acknowledgement(testpay, invoice):
    payment_start(invoice=invoice, gateway="testpay")
    outcome = _notify("tp-1")
    assert testpay.acknowledge(outcome.parsed, processed=True, result=outcome.result) == (
        200,
        {"received": True},
    )


def test_once_unregistered_it_is_gone():
    with registered(TestPay()):
        assert gateway_named("testpay").label == "TestPay"
    with pytest.raises(LookupError, match="no payment gateway named 'testpay'"):
        gateway_named("testpay")


def test_no_service_branches_on_a_gateway_name():
    """The services, views and admin never compare with a gateway's name (they may bind a
    URL to one); only `payments/gateways/` knows a provider's words."""
    sources = [
        *sorted((ROOT / "wetech" / "payments").glob("*.py")),
        *sorted((ROOT / "wetech" / "views").glob("*.py")),
        *sorted((ROOT / "wetech" / "admin").glob("*.py")),
    ]
    branch = re.compile(
        r"""(==|!=|\bin\b|\bis\b)\s*(Gateway\.\w+|["'](pesapal|azampay)["'])"""
        r"""|(Gateway\.\w+|["'](pesapal|azampay)["'])\s*(==|!=)""",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert found == []


@pytest.mark.django_db
def test_an_empty_reference_never_matches_an_attempt_not_yet_named(testpay, invoice):
    attempt = payment_start(invoice=invoice, gateway="testpay").attempt
    PaymentAttempt.objects.filter(pk=attempt.pk).update(gateway_reference="")
    testpay.orders["tp-1"]["word"] = "paid"

    outcome = _notify("")

    assert (outcome.result, outcome.attempt) == (Result.IGNORED, None)
    assert outcome.notification.error == "unknown gateway_reference"
    assert PaymentAttempt.objects.get().status == Status.PENDING


class RefundingTestPay(TestPay):
    """TestPay with a refund API: a refund it takes turns the order "charged_back" later."""

    __test__ = False
    name = "testpay"
    supports_refund_api = True

    def __init__(self):
        super().__init__()
        self.refund_requests: list[RefundRequestData] = []

    def request_refund(self, request: RefundRequestData) -> RefundAccepted:
        self.refund_requests.append(request)
        return RefundAccepted(message="TestPay queued it")


@pytest.mark.django_db
def test_a_refund_through_a_third_gateway_completes_on_its_reversal(
    settings, invoice, django_capture_on_commit_callbacks
):
    settings.STAFF_EMAILS = ["accounts@wetech.co.tz"]
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
    with registered(RefundingTestPay()) as testpay:
        attempt = payment_start(invoice=invoice, gateway="testpay").attempt
        testpay.orders["tp-1"]["word"] = "paid"
        _notify("tp-1")
        attempt.refresh_from_db()

        refund = refund_request(attempt=attempt, reason="Cancelled", actor="amina")
        (sent,) = testpay.refund_requests
        assert (sent.confirmation_code, sent.amount, sent.username, sent.refund_reference) == (
            "TP-CONF-1",
            Decimal("413000.00"),
            "amina",
            refund.reference,
        )

        testpay.orders["tp-1"]["word"] = "charged_back"
        with django_capture_on_commit_callbacks(execute=True):
            assert _notify("tp-1").result == Result.APPLIED

    refund.refresh_from_db()
    assert refund.status == "completed"
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["payment", "refund"]
    assert Invoice.objects.get().status == Invoice.Status.REFUNDED
    assert not ReviewCase.objects.exists()
