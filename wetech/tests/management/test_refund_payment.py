"""`manage.py refund_payment`: the same refund as the back office's, from the command line."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from wetech.models import AuditEntry, CreditNote, PaymentAttempt, Refund
from wetech.payments.gateways.base import GatewayRejected, PaymentStatus
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.start import payment_start
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _each_notification_asks(settings):
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0


def ipn(attempt):
    request = RequestFactory().get(
        "/payments/pesapal/ipn/",
        {
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
        },
    )
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)
    return notification_process(notification=notification, bypass_window=True)


def azampay_paid(attempt):
    request = RequestFactory().post(
        "/payments/azampay/callback/x/",
        json.dumps(azampay_callback_body(attempt)),
        content_type="application/json",
    )
    notification = notification_process(
        notification=notification_record(gateway="azampay", kind="callback", request=request)
    )
    attempt.refresh_from_db()
    return notification


def pesapal_paid(pesapal, invoice, *, payment_method="Visa") -> PaymentAttempt:
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    pesapal.answer(attempt, PaymentStatus.COMPLETED, payment_method=payment_method)
    ipn(attempt)
    attempt.refresh_from_db()
    return attempt


def refund(*args, **options) -> str:
    out = io.StringIO()
    call_command("refund_payment", *args, stdout=out, **options)
    return out.getvalue()


def refused(*args, **options) -> str:
    with pytest.raises(CommandError) as error:
        refund(*args, **options)
    message = str(error.value)
    assert "\n" not in message
    return message


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_pesapal_refund_through_the_api_prints_its_state(pesapal):
    invoice = issued_invoice()
    attempt = pesapal_paid(pesapal, invoice)

    out = refund(invoice.number, "--reason", "Cancelled", "--by", "amina", "--noinput")

    created = Refund.objects.get()
    assert out == (
        f"refund {created.reference} of TZS 413,000 ({attempt.merchant_reference}): requested "
        "(Pesapal: Refund request successfully); it completes when Pesapal reports the payment "
        "reversed\n"
    )
    assert pesapal.refunds[0]["username"] == "amina"
    assert pesapal.refunds[0]["remarks"] == "Cancelled"
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {"amina"}


def test_by_defaults_to_the_operating_system_user(pesapal, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "deploy")
    invoice = issued_invoice()
    pesapal_paid(pesapal, invoice)

    refund(invoice.number, "--reason", "Cancelled", "--noinput")

    assert pesapal.refunds[0]["username"] == "deploy"
    assert Refund.objects.get().requested_by == "deploy"


def test_an_azampay_refund_needs_the_reference_and_completes_at_once(azampay):
    invoice = issued_invoice()
    attempt = payment_start(
        invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt
    azampay_paid(attempt)

    assert refused(invoice.number, "--reason", "x", "--by", "amina", "--noinput") == (
        "refund_payment refused: AzamPay has no refund API: send the money back by hand, then "
        "record it with the reference of that transfer"
    )
    out = refund(
        invoice.number, "--reason", "x", "--by", "amina", "--reference", "MP1", "--noinput"
    )

    note = CreditNote.objects.get()
    assert out == (
        f"refund {note.refund.reference} of TZS 413,000 ({attempt.merchant_reference}): "
        f"completed, credit note {note.number}\n"
    )


def test_the_flagged_payment_is_chosen_and_ambiguity_is_refused(pesapal, azampay):
    invoice = issued_invoice()
    first = payment_start(invoice=invoice, gateway="pesapal").attempt
    second = payment_start(
        invoice=invoice, gateway="azampay", phone="+255712345678", provider="Mpesa"
    ).attempt
    pesapal.answer(first, PaymentStatus.COMPLETED, payment_method="Visa")
    ipn(first)
    azampay_paid(second)
    assert second.needs_refund

    refund(
        invoice.number, "--reason", "Paid twice", "--by", "amina", "--reference", "MP1", "--noinput"
    )

    assert Refund.objects.get().attempt == second
    # Nothing is flagged now, and two payments completed: say which.
    assert refused(invoice.number, "--reason", "x", "--by", "amina", "--noinput") == (
        f"refund_payment refused: invoice {invoice.number} has 2 completed payments "
        f"({first.merchant_reference}, {second.merchant_reference}): choose one with --payment"
    )
    refund(
        invoice.number,
        "--payment",
        first.merchant_reference,
        "--amount",
        "1000",
        "--reason",
        "Discount",
        "--by",
        "amina",
        "--noinput",
    )
    assert Refund.objects.filter(attempt=first).get().amount == Decimal("1000.00")


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("unpaid", [], "refund_payment refused: nothing was paid on invoice {number}"),
        (
            "visa",
            ["--amount", "413000.01"],
            "refund_payment refused: 413000.01 TZS is more than what is left of payment {ref}: "
            "413000.00 TZS",
        ),
        (
            "mpesa",
            ["--amount", "1000"],
            "refund_payment refused: Pesapal refunds a mobile-money payment (MpesaTZ) in full "
            "only: 413000.00, not 1000.00",
        ),
        ("visa", ["--amount", "lots"], "refund_payment refused: 'lots' is not an amount of money"),
        (
            "visa",
            ["--payment", "WT-nope"],
            "refund_payment refused: invoice {number} has no payment WT-nope",
        ),
    ],
)
def test_refusals_are_one_line(pesapal, setup, args, message):
    invoice = issued_invoice()
    reference = ""
    if setup != "unpaid":
        method = "MpesaTZ" if setup == "mpesa" else "Visa"
        reference = pesapal_paid(pesapal, invoice, payment_method=method).merchant_reference
    found = refused(invoice.number, *args, "--reason", "x", "--by", "amina", "--noinput")
    assert found == message.format(number=invoice.number, ref=reference)
    assert not Refund.objects.exists()


def test_a_second_pesapal_refund_of_one_payment_is_refused(pesapal):
    invoice = issued_invoice()
    attempt = pesapal_paid(pesapal, invoice)
    refund(invoice.number, "--amount", "1000", "--reason", "x", "--by", "amina", "--noinput")

    assert refused(invoice.number, "--reason", "x", "--by", "amina", "--noinput").startswith(
        f"refund_payment refused: refund {Refund.objects.get().reference} of payment "
        f"{attempt.merchant_reference} is already in flight"
    )
    pesapal.answer(attempt, PaymentStatus.REVERSED)
    ipn(attempt)
    assert refused(invoice.number, "--reason", "x", "--by", "amina", "--noinput").startswith(
        f"refund_payment refused: payment {attempt.merchant_reference} was already refunded"
    )


def test_a_gateway_refusal_is_one_line_and_non_zero(pesapal):
    invoice = issued_invoice()
    pesapal_paid(pesapal, invoice)
    pesapal.refund_error = GatewayRejected("Refund amount is not valid", gateway="pesapal")

    assert refused(invoice.number, "--reason", "x", "--by", "amina", "--noinput") == (
        "refund_payment refused: Pesapal refused the refund: Refund amount is not valid"
    )
    assert Refund.objects.get().status == "rejected"


def test_without_a_terminal_it_refuses_unless_noinput(pesapal, monkeypatch):
    invoice = issued_invoice()
    pesapal_paid(pesapal, invoice)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))

    assert refused(invoice.number, "--reason", "x", "--by", "amina") == (
        "refund_payment refused: no terminal to confirm on; pass --noinput to refund without asking"
    )
    assert not Refund.objects.exists()


@pytest.mark.parametrize(("answer", "refunded"), [("yes\n", True), ("no\n", False)])
def test_it_asks_for_confirmation_on_a_terminal(pesapal, monkeypatch, answer, refunded):
    invoice = issued_invoice()
    attempt = pesapal_paid(pesapal, invoice)
    monkeypatch.setattr("sys.stdin", Terminal(answer))

    if refunded:
        out = refund(invoice.number, "--amount", "1000", "--reason", "x", "--by", "amina")
        assert out.startswith(
            f"Refund TZS 1,000 of {attempt.merchant_reference} (Pesapal, Visa; TZS 413,000 left "
            f"of TZS 413,000) on invoice {invoice.number}, through Pesapal's refund API, asked "
            "by amina.\n"
        )
        assert Refund.objects.exists()
    else:
        assert refused(invoice.number, "--reason", "x", "--by", "amina") == (
            "refund_payment cancelled: nothing was refunded"
        )
        assert not Refund.objects.exists()
