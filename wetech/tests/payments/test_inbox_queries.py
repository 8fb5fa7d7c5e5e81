"""What a Pesapal IPN costs the database, counted on the real request (`GET
/payments/pesapal/ipn/`, the fake Pesapal client behind the real gateway): a test here fails
when a change makes settling cost more queries (issue 13).

The work of the IPN that pays an invoice: the message recorded (committed on its own, before
anything else), the attempt found; then in one transaction the invoice's attempts locked (one
statement finds their invoice), the invoice locked, the ledger entry (in a savepoint: a
duplicate means "already applied"), the ledger and refunds read once for the payments' flags
and the invoice's totals, the invoice and the attempt saved, the receipt and staff's note
queued (one INSERT for both), and the message marked (in the same transaction: one commit).
13 statements; the test's own transaction turns the settlement's BEGIN/COMMIT into a savepoint
pair, which counts 2 more.
"""

import pytest

from wetech.models import GatewayNotification, Invoice, LedgerEntry, OutgoingEmail
from wetech.payments.start import payment_start
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

TEST_TRANSACTION = 2
IPN_THAT_PAYS = 13 + TEST_TRANSACTION
# The same IPN again within the status window: recorded, the attempt found and read again,
# the message marked duplicate. No gateway call, no transaction.
IPN_REPEATED = 4


@pytest.fixture
def attempt(pesapal):
    attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
    pesapal.answer(attempt)
    return attempt


def _ipn(client, attempt):
    response = client.get(
        "/payments/pesapal/ipn/",
        {
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        },
    )
    assert response.status_code == 200
    assert response.json()["status"] == 200
    return response


def test_the_ipn_that_pays_an_invoice(client, attempt, django_assert_max_num_queries):
    with django_assert_max_num_queries(IPN_THAT_PAYS):
        _ipn(client, attempt)
    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.PAID
    assert LedgerEntry.objects.filter(attempt=attempt).count() == 1
    assert sorted(OutgoingEmail.objects.values_list("template", flat=True)) == [
        "payment_staff",
        "receipt",
    ]
    assert GatewayNotification.objects.get().result == GatewayNotification.Result.APPLIED


def test_a_repeated_ipn(client, attempt, django_assert_max_num_queries):
    _ipn(client, attempt)
    with django_assert_max_num_queries(IPN_REPEATED):
        _ipn(client, attempt)
    assert LedgerEntry.objects.count() == 1
    assert OutgoingEmail.objects.count() == 2
    assert list(GatewayNotification.objects.order_by("pk").values_list("result", flat=True)) == [
        GatewayNotification.Result.APPLIED,
        GatewayNotification.Result.DUPLICATE,
    ]


def test_the_cost_of_an_ipn_does_not_grow_with_the_invoices_already_paid(
    client, pesapal, django_assert_max_num_queries
):
    for n in range(4):
        invoice = issued_invoice(email=f"customer{n}@example.co.tz")
        attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
        pesapal.answer(attempt)
        with django_assert_max_num_queries(IPN_THAT_PAYS):
            _ipn(client, attempt)
    assert Invoice.objects.filter(status=Invoice.Status.PAID).count() == 4
    assert LedgerEntry.objects.count() == 4
