"""The benchmark's references (`bench/views.py`) write what the site writes: a bare lead the
same client, lead, invoice, line and counter rows as `POST /leads/`, a bare settlement the same
attempt, ledger and invoice changes as a Pesapal IPN. Otherwise their ratios would mean nothing.
"""

import threading
from decimal import Decimal
from http.server import ThreadingHTTPServer

import pytest
from django.forms.models import model_to_dict
from django.test import override_settings

from bench.fake_pesapal import make_handler
from wetech.models import (
    Client,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Lead,
    LedgerEntry,
    PaymentAttempt,
)
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

# Raw SQL: it must hold on SQLite and on PostgreSQL, so it runs in both passes.
pytestmark = pytest.mark.django_db

SERVICE_URL = "/services/business-website/"
VARYING = {"id", "client", "lead", "invoice", "token", "number", "created_at", "consent_at"}


def _row(instance, *ignore) -> dict:
    return {
        key: value
        for key, value in model_to_dict(instance).items()
        if key not in VARYING and key not in ignore
    }


@override_settings(ROOT_URLCONF="bench.urls")
def test_a_bare_lead_writes_the_rows_of_a_real_lead(client):
    make_service(price=Decimal("350000"))
    data = lead_post(client, SERVICE_URL)
    assert client.post("/leads/", data).status_code == 303
    other = {**data, "email": "juma@example.co.tz", "phone": "+255754000111", "name": "Juma"}
    response = client.post("/bench/bare-lead/", other)
    assert response.status_code == 303
    real, bare = Invoice.objects.order_by("pk")
    assert response["Location"] == bare.get_absolute_url()
    year = real.number.split("-")[1]
    assert bare.number == f"WT-{year}-00002"
    assert InvoiceCounter.objects.get().last_number == 2
    assert _row(bare, "client_name", "client_email", "client_phone", "issued_at", "due_date") == (
        _row(real, "client_name", "client_email", "client_phone", "issued_at", "due_date")
    )
    assert bare.due_date == real.due_date
    assert (bare.client_email, bare.client.email, bare.lead.email) == ("juma@example.co.tz",) * 3
    assert _row(InvoiceLine.objects.get(invoice=bare)) == _row(
        InvoiceLine.objects.get(invoice=real)
    )
    real_lead, bare_lead = Lead.objects.order_by("pk")
    assert _row(bare_lead, "name", "email", "phone", "landing_page", "source_page") == _row(
        real_lead, "name", "email", "phone", "landing_page", "source_page"
    )
    assert Client.objects.count() == 2


@pytest.fixture
def fake_pesapal(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(413000.0, "TZS"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configure_gateways(settings, base_url=f"http://127.0.0.1:{server.server_port}")
    settings.PESAPAL_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    yield
    server.shutdown()
    server.server_close()


def _bench_attempt(n: int) -> PaymentAttempt:
    invoice = issued_invoice(email=f"bench{n}@example.co.tz")
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"BENCH-{n}",
        gateway_reference=f"trk-{n}",
        amount=invoice.total,
        currency="TZS",
        status="pending",
    )


@override_settings(ROOT_URLCONF="bench.urls")
def test_a_bare_settlement_makes_the_changes_of_a_real_ipn(client, fake_pesapal):
    real, bare = _bench_attempt(1), _bench_attempt(2)
    for attempt, path in ((real, "/payments/pesapal/ipn/"), (bare, "/bench/bare-settlement/")):
        for _ in range(2):  # the second one is a duplicate: nothing written twice
            response = client.get(
                path,
                {
                    "OrderTrackingId": attempt.gateway_reference,
                    "OrderMerchantReference": attempt.merchant_reference,
                    "OrderNotificationType": "IPNCHANGE",
                },
            )
            assert response.status_code == 200
            assert response.json()["status"] == 200
    for attempt in (real, bare):
        attempt.refresh_from_db()
        attempt.invoice.refresh_from_db()
    assert (bare.status, bare.payment_method) == (real.status, real.payment_method)
    assert (real.confirmation_code, bare.confirmation_code) == ("CONF1", "CONF2")
    assert bare.completed_at is not None
    assert (real.invoice.status, bare.invoice.status) == ("paid", "paid")
    assert bare.invoice.paid_at is not None
    entries = {
        e.gateway_reference: (e.kind, e.amount, e.currency, e.confirmation_code)
        for e in LedgerEntry.objects.all()
    }
    assert entries == {
        "trk-1": ("payment", Decimal("413000.00"), "TZS", "CONF1"),
        "trk-2": ("payment", Decimal("413000.00"), "TZS", "CONF2"),
    }
