"""Every back-office page costs the same number of queries for 3 rows as for 30: lists (plain,
searched and filtered) and change pages, whatever the number of lines, payments, refunds or
audit entries an invoice has."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wetech.models import (
    AuditEntry,
    Client,
    CreditNote,
    GatewayNotification,
    Invoice,
    Lead,
    LedgerEntry,
    OutgoingEmail,
    PaymentAttempt,
    Refund,
    ReviewCase,
)
from wetech.tests.scale_helpers import book_add, invoice_with_lines, paid_attempt, refund_done

pytestmark = pytest.mark.django_db

WETECH_LISTS = sorted(
    model._meta.model_name for model in admin.site._registry if model._meta.app_label == "wetech"
)


def queries(client, url: str) -> int:
    # A first request fills per-process caches (content types, permissions): not counted.
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_every_wetech_model_in_the_back_office_is_counted_here():
    assert set(WETECH_LISTS) >= {
        "client",
        "lead",
        "invoice",
        "paymentattempt",
        "ledgerentry",
        "gatewaynotification",
        "refund",
        "creditnote",
        "reviewcase",
        "auditentry",
        "outgoingemail",
    }


@pytest.mark.parametrize("model", WETECH_LISTS)
def test_a_list_costs_the_same_queries_for_3_rows_and_30(admin_client, model):
    url = f"/admin/wetech/{model}/"
    book_add(3)
    few = queries(admin_client, url)
    book_add(27)
    assert queries(admin_client, url) == few


@pytest.mark.parametrize(
    "url",
    [
        "/admin/wetech/invoice/?q=Mwakyusa",
        "/admin/wetech/invoice/?q=WT-2026-0",
        "/admin/wetech/invoice/?status__exact=issued&currency__exact=TZS",
        "/admin/wetech/client/?q=Kilimanjaro",
        "/admin/wetech/lead/?q=amina",
        "/admin/wetech/lead/?utm_source__exact=source-1",
        "/admin/wetech/paymentattempt/?q=WT-2026-0",
        "/admin/wetech/ledgerentry/?q=WT-2026-0",
        "/admin/wetech/gatewaynotification/?q=WT-2026-0",
        "/admin/wetech/refund/?q=WT-2026-0",
        "/admin/wetech/creditnote/?q=CN-",
        "/admin/wetech/reviewcase/?q=WT-2026-0",
        "/admin/wetech/auditentry/?q=WT-2026-0",
        "/admin/wetech/outgoingemail/?q=WT-2026-0",
    ],
)
def test_a_search_or_filter_costs_the_same_queries_for_3_rows_and_30(admin_client, url):
    book_add(3)
    few = queries(admin_client, url)
    book_add(27)
    assert queries(admin_client, url) == few


CHANGE_PAGES = [
    Client,
    Lead,
    Invoice,
    PaymentAttempt,
    LedgerEntry,
    GatewayNotification,
    Refund,
    CreditNote,
    ReviewCase,
    AuditEntry,
    OutgoingEmail,
]


@pytest.mark.parametrize("model", CHANGE_PAGES, ids=lambda m: m._meta.model_name)
def test_a_change_page_costs_the_same_queries_among_3_rows_and_30(admin_client, model):
    book_add(3)
    first = model.objects.order_by("pk").first()
    url = f"/admin/wetech/{model._meta.model_name}/{first.pk}/change/"
    few = queries(admin_client, url)
    book_add(27)
    assert queries(admin_client, url) == few


def _invoice_page(invoice: Invoice) -> str:
    return f"/admin/wetech/invoice/{invoice.pk}/change/"


def test_the_invoice_page_costs_the_same_queries_for_3_lines_and_30(admin_client):
    client = Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+255712345678")
    short = invoice_with_lines(client, number="WT-2026-00001", lines=3)
    long = invoice_with_lines(client, number="WT-2026-00002", lines=30)
    for invoice in (short, long):
        paid_attempt(invoice, suffix="A1")
    assert queries(admin_client, _invoice_page(short)) == queries(admin_client, _invoice_page(long))


def test_the_invoice_page_costs_the_same_queries_for_3_payments_and_30(admin_client):
    client = Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+255712345678")
    pages = []
    for number, payments in (("WT-2026-00001", 3), ("WT-2026-00002", 30)):
        invoice = invoice_with_lines(client, number=number)
        for n in range(payments):
            refund_done(paid_attempt(invoice, suffix=f"{n:08X}"))
        pages.append(queries(admin_client, _invoice_page(invoice)))
    assert pages[0] == pages[1]


def test_the_payment_and_review_pages_cost_the_same_queries_for_3_notifications_and_30(
    admin_client,
):
    invoices = book_add(2)
    urls = []
    for invoice, extra in zip(invoices, (2, 29), strict=True):
        attempt = invoice.payment_attempts.get()
        GatewayNotification.objects.bulk_create(
            GatewayNotification(gateway="pesapal", kind="ipn", method="POST", attempt=attempt)
            for _ in range(extra)
        )
        for _ in range(extra):
            AuditEntry.objects.create(
                actor="amina", action=AuditEntry.Action.EMAIL_RESENT, attempt=attempt
            )
        case = invoice.review_cases.get()
        urls.append(
            (
                f"/admin/wetech/paymentattempt/{attempt.pk}/change/",
                f"/admin/wetech/reviewcase/{case.pk}/change/",
            )
        )
    for few, many in zip(*urls, strict=True):
        assert queries(admin_client, few) == queries(admin_client, many)
