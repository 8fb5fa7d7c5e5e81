import re
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from sandbox.testing import simulator_settings
from wetech.models import CreditNote, Invoice, Lead, PaymentAttempt, Refund
from wetech.sales.leads import lead_capture
from wetech.tests.document_helpers import pdf_text
from wetech.tests.lead_helpers import hidden_fields, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice():
    _, invoice = lead_capture(
        name="Asha <i>Mwinyi</i>",
        email="asha@example.co.tz",
        phone="+255712345678",
        company="Mwinyi & Sons",
        service=make_service(price=Decimal("1500000")),
    )
    return invoice


def test_invoice_page_shows_the_document(client, invoice):
    response = client.get(f"/invoices/{invoice.token}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert invoice.number in html
    assert "Asha &lt;i&gt;Mwinyi&lt;/i&gt;" in html
    assert "Mwinyi &amp; Sons" in html
    assert "Business website" in html
    assert "TZS 1,500,000" in html
    assert "VAT 18%" in html
    assert "TZS 270,000" in html
    assert "TZS 1,770,000" in html
    assert 'class="badge badge-issued"' in html
    assert 'href="/static/css/print.css" media="print"' in html
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def gateways_configured(settings):
    for name, value in simulator_settings("http://testserver").items():
        setattr(settings, name, value)


def test_no_pay_options_without_configured_gateways(client, invoice):
    html = client.get(f"/invoices/{invoice.token}/").content.decode()
    assert "/pay/pesapal/" not in html
    assert "/pay/azampay/" not in html
    assert "Online payment is not available right now" in html


def test_pay_options_offer_both_gateways_while_issued(client, invoice, gateways_configured):
    html = client.get(f"/invoices/{invoice.token}/").content.decode()
    assert 'class="pay-options' in html
    assert f'action="/invoices/{invoice.token}/pay/pesapal/"' in html
    assert f'action="/invoices/{invoice.token}/pay/azampay/"' in html
    assert "Pay by card or mobile money with Pesapal" in html
    assert 'name="phone"' in html
    options = dict(re.findall(r'<option value="([^"]+)">([^<]+)</option>', html))
    assert options["Tigo"] == "Mixx by Yas (Tigo Pesa)"
    assert options["Mpesa"] == "M-Pesa"
    assert set(options) == {"Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa"}
    # Each pay form carries its CSRF token (the header's language switcher has its own).
    pay_options = html[html.index('class="pay-options') :]
    assert pay_options.count('name="csrfmiddlewaretoken"') == 2


@pytest.mark.parametrize("status", ["paid", "void", "needs_review"])
def test_no_pay_options_unless_issued(client, invoice, status):
    Invoice.objects.filter(pk=invoice.pk).update(status=status)
    html = client.get(f"/invoices/{invoice.token}/").content.decode()
    assert "pay-options" not in html
    assert "/pay/pesapal/" not in html


def test_status_json_matches_the_contract(client, invoice):
    response = client.get(f"/invoices/{invoice.token}/status/")
    assert response.status_code == 200
    assert response.json() == {
        "number": invoice.number,
        "status": "issued",
        "total": "1770000.00",
        "currency": "TZS",
        "amount_paid": "0.00",
        "payments": [],
    }
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/invoices/" + "A" * 43 + "/",
        "/invoices/" + "A" * 43 + "/status/",
        "/invoices/" + "A" * 43 + "/pdf/",
        "/invoices/short/",
        "/invoices/%00" + "A" * 40 + "/",
        "/invoices/1/",
    ],
)
def test_unknown_tokens_are_404(client, invoice, path):
    assert client.get(path).status_code == 404


def test_drafts_are_not_public(client, invoice):
    draft = Invoice.objects.create(
        client=invoice.client,
        client_name="A",
        client_email="a@example.com",
        client_phone="+255712345678",
    )
    assert client.get(f"/invoices/{draft.token}/").status_code == 404
    assert client.get(f"/invoices/{draft.token}/status/").status_code == 404
    assert client.get(f"/invoices/{draft.token}/pdf/").status_code == 404


def test_a_question_about_an_invoice_leaves_its_token_out_of_the_lead(client, invoice):
    page = f"http://testserver/invoices/{invoice.token}/"
    html = client.get(page).content.decode()
    link = re.search(r'<a [^>]*href="([^"]*)"[^>]*>Questions about this invoice\?</a>', html)
    assert invoice.token not in link.group(0)
    assert 'rel="noreferrer"' in link.group(0)
    assert link.group(1) == f"/contact/?invoice={invoice.number}"

    # A browser that sends the Referer anyway (or hidden fields edited by hand) still stores none.
    data = lead_post_from(client, link.group(1), referer=page, message="Is VAT included?")
    data["landing_page"] = f"/invoices/{invoice.token}/?from=email"
    response = client.post("/leads/", data, HTTP_REFERER="http://testserver" + link.group(1))

    assert response.status_code == 303
    lead = Lead.objects.get(message="Is VAT included?")
    assert invoice.token not in f"{lead.referrer} {lead.landing_page} {lead.source_page}"
    assert lead.referrer == "http://testserver/invoices/[redacted]/"
    assert lead.landing_page == "/invoices/[redacted]/?from=email"
    assert lead.source_page == "/invoices/[redacted]/"


def test_the_contact_page_reached_from_an_invoice_records_its_number(client, invoice):
    data = lead_post_from(client, f"/contact/?invoice={invoice.number}", message="Hello")
    client.post("/leads/", data)

    lead = Lead.objects.get(message="Hello")
    assert lead.landing_page == f"/contact/?invoice={invoice.number}"
    assert lead.referrer == ""


def lead_post_from(client, url, *, referer="", **fields):
    """The contact form as a browser posts it after arriving at `url` from `referer`."""
    page = client.get(url, HTTP_REFERER=referer) if referer else client.get(url)
    data = hidden_fields(page.content.decode())
    data.update(name="Asha Mwinyi", email="asha@example.co.tz", phone="0712 345 678", **fields)
    return data


def test_the_invoice_page_is_a_tax_invoice_with_both_tax_numbers(client, invoice, settings):
    settings.COMPANY_TIN = "123-456-789"
    settings.COMPANY_VRN = "40-012345-A"
    Invoice.objects.filter(pk=invoice.pk).update(client_tin="987654321")

    html = client.get(f"/invoices/{invoice.token}/").content.decode()

    assert '<p class="doc-kind">Tax invoice</p>' in html
    assert "TIN <strong>123-456-789</strong> · VRN <strong>40-012345-A</strong>" in html
    assert "TIN 987-654-321" in html
    assert html.count('class="badge ') == 1


def test_the_page_links_to_its_pdf(client, invoice):
    html = client.get(f"/invoices/{invoice.token}/").content.decode()
    assert f'href="/invoices/{invoice.token}/pdf/" type="application/pdf">Download PDF</a>' in html


def test_the_pdf_is_served_inline_under_its_number_and_never_cached_or_indexed(client, invoice):
    response = client.get(f"/invoices/{invoice.token}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"
    assert response.content.startswith(b"%PDF-")
    assert invoice.number in pdf_text(response.content)


def test_the_pdf_only_answers_get(client, invoice):
    assert client.post(f"/invoices/{invoice.token}/pdf/").status_code == 405


def _page_text(html: str) -> str:
    """The words a printout of the page shows: tags and the no-print parts left out."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", html)
    html = re.sub(r'(?s)<(p|div) class="[^"]*no-print.*?</\1>', "", html)
    html = re.sub(r'(?s)<caption class="visually-hidden">.*?</caption>', "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_pdf_says_what_the_printable_page_says(client, invoice):
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="azampay",
        merchant_reference=f"{invoice.number}-9F8E7D6C",
        amount=invoice.total,
        currency="TZS",
        status=PaymentAttempt.Status.COMPLETED,
        completed_at=timezone.now(),
        payment_method="Mpesa",
    )
    Invoice.objects.filter(pk=invoice.pk).update(status="paid", paid_at=attempt.completed_at)
    refund = Refund.objects.create(
        invoice=invoice,
        attempt=attempt,
        reference="RF-1",
        amount=Decimal("100000"),
        currency="TZS",
        method=Refund.Method.MANUAL,
        status=Refund.Status.COMPLETED,
        reason="Discount agreed",
        requested_by="finance",
        external_reference="MP55AA",
        completed_at=timezone.now(),
    )
    CreditNote.objects.create(
        number="CN-2026-00001",
        invoice=invoice,
        refund=refund,
        amount=refund.amount,
        currency="TZS",
        reason="Discount agreed",
        issued_at=refund.completed_at,
    )

    page = _page_text(client.get(f"/invoices/{invoice.token}/").content.decode())
    pdf = " ".join(pdf_text(client.get(f"/invoices/{invoice.token}/pdf/").content).split())

    # The document's words in the same order on both, bar the letter case of styled labels.
    end = "Ref. MP55AA TZS 100,000"
    document = page[page.index("WeTech Ltd") : page.index(end) + len(end)]
    body = pdf[pdf.index("WeTech Ltd Mikocheni") :]
    assert body.lower().startswith(document.lower())
    for expected in ("Receipt", "CN-2026-00001", "Discount agreed", "Azampay", "TZS 100,000"):
        assert expected.lower() in document.lower()
