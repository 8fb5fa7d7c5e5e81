import csv
import io
from decimal import Decimal

import pytest

from wetech.admin.sales import csv_safe
from wetech.models import Invoice, Lead
from wetech.sales.leads import lead_capture
from wetech.tests.lead_helpers import make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured():
    return lead_capture(
        name='=HYPERLINK("http://evil")',
        email="asha@example.co.tz",
        phone="+255712345678",
        company="@SUM(A1)",
        service=make_service(price=Decimal("350000")),
        message="-2+3 Habari 😀",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+255712345678", "'+255712345678"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Asha", "Asha"),
        (None, ""),
    ],
)
def test_csv_safe_neutralises_formulas(value, expected):
    assert csv_safe(value) == expected


def test_lead_csv_export_escapes_formulas(admin_client, captured):
    lead, _ = captured
    response = admin_client.post(
        "/admin/wetech/lead/", {"action": "export_csv", "_selected_action": [lead.pk]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows
    record = dict(zip(header, row, strict=True))
    assert record["name"] == '\'=HYPERLINK("http://evil")'
    assert record["company"] == "'@SUM(A1)"
    assert record["phone"] == "'+255712345678"
    assert record["message"] == "'-2+3 Habari 😀"
    assert record["service"] == "Business website"


def test_mark_contacted_moves_only_new_leads(admin_client, captured):
    lead, _ = captured
    won = Lead.objects.create(
        client=lead.client, name="B", email="b@example.com", phone="+1", status="won"
    )
    admin_client.post(
        "/admin/wetech/lead/",
        {"action": "mark_contacted", "_selected_action": [lead.pk, won.pk]},
    )
    lead.refresh_from_db()
    won.refresh_from_db()
    assert (lead.status, won.status) == ("contacted", "won")


def test_lead_list_filters_and_search(admin_client, captured):
    for query in ("?status__exact=new", "?q=asha", "?utm_source=x", "?service__id__exact=1"):
        assert admin_client.get(f"/admin/wetech/lead/{query}").status_code == 200


def test_issued_invoice_is_read_only_in_admin(admin_client, captured):
    _, invoice = captured
    page = admin_client.get(f"/admin/wetech/invoice/{invoice.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "TZS 413,000" in html
    assert f'href="/invoices/{invoice.token}/"' in html
    assert 'name="lines-0-unit_price"' not in html
    assert 'name="client_name"' not in html
    admin_client.post(f"/admin/wetech/invoice/{invoice.pk}/change/", {"client_name": "Changed"})
    invoice.refresh_from_db()
    assert invoice.client_name == '=HYPERLINK("http://evil")'
    assert admin_client.get(f"/admin/wetech/invoice/{invoice.pk}/delete/").status_code == 403


def test_invoice_list_shows_money_with_currency(admin_client, captured):
    html = admin_client.get("/admin/wetech/invoice/").content.decode()
    assert "TZS 413,000" in html


def test_admin_can_draft_and_issue_an_invoice(admin_client, captured):
    lead, _ = captured
    response = admin_client.post(
        "/admin/wetech/invoice/add/",
        {
            "client": lead.client.pk,
            "client_name": "Asha",
            "client_email": "asha@example.co.tz",
            "client_phone": "+255712345678",
            "client_company": "",
            # The customer's language: the PDF and the emails about this invoice are in it.
            "language": "sw",
            "currency": "TZS",
            "tax_rate": "0.18",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-position": "1",
            "lines-0-description": "Extra pages",
            "lines-0-quantity": "2",
            "lines-0-unit_price": "100000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    draft = Invoice.objects.get(status="draft")
    assert draft.total == Decimal("236000.00")
    assert draft.language == "sw"
    admin_client.post(
        "/admin/wetech/invoice/", {"action": "issue_drafts", "_selected_action": [draft.pk]}
    )
    draft.refresh_from_db()
    assert draft.status == "issued"
    assert draft.number.endswith("-00002")


def test_service_admin_shows_prices_with_currency(admin_client, captured):
    html = admin_client.get("/admin/wetech/service/").content.decode()
    assert "TZS 350,000" in html
