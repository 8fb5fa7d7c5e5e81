"""The invoice PDF: a Tanzanian tax invoice whose text can be read back (pypdf), with its receipt
once paid and its credit notes, drawn from the invoice page's own document template."""

import io
import logging
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from wetech.emails import email_message_build, email_send
from wetech.models import Client, CreditNote, Invoice, InvoiceLine, PaymentAttempt, Refund
from wetech.sales.documents import (
    invoice_pdf_attachment,
    invoice_pdf_attachment_spec,
    invoice_pdf_filename,
    invoice_pdf_render,
)
from wetech.sales.invoicing import invoice_issue
from wetech.sales.leads import lead_capture
from wetech.sales.selectors import invoice_document
from wetech.tests.document_helpers import pdf_text
from wetech.tests.lead_helpers import make_service

pytestmark = pytest.mark.django_db

EAT = ZoneInfo("Africa/Dar_es_Salaam")


@pytest.fixture
def company(settings):
    settings.COMPANY_NAME = "WeTech Ltd"
    settings.COMPANY_ADDRESS = "Mikocheni, Dar es Salaam, Tanzania"
    settings.COMPANY_TIN = "123-456-789"
    settings.COMPANY_VRN = "40-012345-A"


@pytest.fixture
def invoice(company, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 30, tzinfo=EAT), tick=False)
    _, invoice = lead_capture(
        name="Asha Mwinyi",
        email="asha@example.co.tz",
        phone="+255712345678",
        company="Mwinyi Traders Ltd",
        tin="987654321",
        service=make_service(price=Decimal("1500000"), price_note="one-off"),
    )
    return invoice


def paid(invoice: Invoice) -> PaymentAttempt:
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-0A1B2C3D",
        amount=invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.COMPLETED,
        completed_at=datetime(2026, 3, 3, 14, 5, tzinfo=EAT),
        confirmation_code="PSP123ABC",
        payment_method="MpesaTZ",
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        status=Invoice.Status.PAID, paid_at=attempt.completed_at
    )
    invoice.refresh_from_db()
    return attempt


def refunded(attempt: PaymentAttempt, *, amount: str, number: str) -> CreditNote:
    refund = Refund.objects.create(
        invoice_id=attempt.invoice_id,
        attempt=attempt,
        reference=f"RF-{number}",
        amount=Decimal(amount),
        currency=attempt.currency,
        method=Refund.Method.MANUAL,
        status=Refund.Status.COMPLETED,
        reason="Hosting plan not needed (staff note)",
        requested_by="finance",
        external_reference="MP240305ABC",
        completed_at=datetime(2026, 3, 5, 10, 0, tzinfo=EAT),
    )
    return CreditNote.objects.create(
        number=number,
        invoice_id=attempt.invoice_id,
        refund=refund,
        amount=refund.amount,
        currency=refund.currency,
        reason="Part of the order cancelled",
        issued_at=refund.completed_at,
    )


def test_the_pdf_is_a_tax_invoice_with_both_parties_tax_numbers_and_the_vat(invoice):
    pdf = invoice_pdf_render(invoice=invoice)

    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert reader.metadata.title == f"Tax invoice {invoice.number}"
    text = pdf_text(pdf)
    for expected in (
        "TAX INVOICE",
        invoice.number,
        # The seller: name, address, TIN and VRN.
        "WeTech Ltd",
        "Mikocheni, Dar es Salaam, Tanzania",
        "TIN 123-456-789 · VRN 40-012345-A",
        # The buyer, with the TIN they gave.
        "Asha Mwinyi",
        "Mwinyi Traders Ltd",
        "TIN 987-654-321",
        # Dates, the line, VAT's rate and amount, the total.
        "Date of issue\n2 March 2026",
        "Due date\n16 March 2026",
        "Business website (one-off)\n1\n1,500,000\n1,500,000",
        "Subtotal\nTZS 1,500,000",
        "VAT 18%\nTZS 270,000",
        "Total\nTZS 1,770,000",
    ):
        assert expected in text
    assert "RECEIPT" not in text
    assert invoice_pdf_filename(invoice) == f"{invoice.number}.pdf"


def test_without_a_buyer_tin_no_tin_line_is_printed_for_the_buyer(company):
    _, invoice = lead_capture(
        name="Juma Kassim",
        email="juma@example.co.tz",
        phone="+255754321987",
        service=make_service(),
    )

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert text.count("TIN ") == 2  # the seller's, at the top and in the page footer


def test_once_paid_it_carries_the_receipt(invoice):
    paid(invoice)

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert "PAID" in text
    assert "Paid in full on 3 March 2026." in text
    for expected in (
        "RECEIPT",
        "Amount received\nTZS 1,770,000",
        "Date paid\n3 March 2026, 14:05",
        "Paid with\nPesapal (MpesaTZ)",
        f"Our reference\n{invoice.number}-0A1B2C3D",
        "Confirmation code\nPSP123ABC",
    ):
        assert expected in text


def test_a_partial_refund_lists_its_credit_note_under_the_receipt(invoice):
    refunded(paid(invoice), amount="270000.00", number="CN-2026-00007")

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert "RECEIPT" in text
    assert "CREDIT NOTES AND REFUNDS" in text
    assert "CN-2026-00007\n5 Mar 2026\nPart of the order cancelled" in text
    assert "Ref. MP240305ABC\nTZS 270,000" in text
    assert "staff note" not in text  # staff's reason stays in the back office


def test_a_refunded_invoice_keeps_its_receipt_and_says_so(invoice):
    refunded(paid(invoice), amount="1770000.00", number="CN-2026-00008")
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REFUNDED)
    invoice.refresh_from_db()

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert "REFUNDED" in text
    assert "Status\nPaid, then refunded" in text
    assert "CN-2026-00008" in text


def test_a_payment_refunded_through_the_gateway_keeps_its_receipt(invoice):
    """The gateway reports a payment it refunded as reversed: still the receipt's payment."""
    attempt = paid(invoice)
    note = refunded(attempt, amount="1770000.00", number="CN-2026-00009")
    Refund.objects.filter(pk=note.refund_id).update(method=Refund.Method.GATEWAY)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=PaymentAttempt.Status.REVERSED)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REFUNDED)
    invoice.refresh_from_db()

    document = invoice_document(invoice)

    assert document["receipt"] == attempt
    assert [refund.credit_note.number for refund in document["refunds"]] == ["CN-2026-00009"]


def test_names_beyond_western_european_letters_print_as_typed(company):
    _, invoice = lead_capture(
        name="Łukasz Şahin",
        email="lukasz@example.pl",
        phone="+255712345678",
        company="Ğüneş & Žižek Sp. z o.o.",
        service=make_service(name="Strona internetowa \u2013 €uro"),
    )

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert "Łukasz Şahin" in text
    assert "Ğüneş & Žižek Sp. z o.o." in text
    assert "Strona internetowa \u2013 €uro" in text


def test_markup_in_a_line_is_printed_as_text_and_fetches_nothing(company, caplog):
    # Lines typed by staff (priced-on-request invoices) are not stripped of tags like the lead
    # form's fields: the template escapes them, and the renderer may read no file and no URL.
    hostile = '<img src="/etc/passwd"> <img src="http://169.254.169.254/latest/">'
    client = Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+255712345678")
    draft = Invoice.objects.create(
        client=client,
        client_name="Asha",
        client_email=client.email,
        client_phone=client.phone,
        tax_rate=Decimal("0.18"),
    )
    InvoiceLine.objects.create(invoice=draft, description=hostile, unit_price=Decimal("100000"))
    invoice = invoice_issue(invoice=draft)
    caplog.set_level(logging.DEBUG, logger="xhtml2pdf")

    text = pdf_text(invoice_pdf_render(invoice=invoice))

    assert '<img src="/etc/passwd">' in text
    assert "169.254.169.254" in text
    assert not [record for record in caplog.records if "/etc/passwd" in record.getMessage()]


def test_as_an_attachment_it_is_named_after_the_invoice(invoice):
    filename, content, mimetype = invoice_pdf_attachment(invoice_id=invoice.pk)

    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert invoice.number in pdf_text(content)


@pytest.fixture
def broken_pdf_template(settings, tmp_path):
    """A pdf.html that cannot render (it includes a template that does not exist)."""
    (tmp_path / "invoices").mkdir()
    (tmp_path / "invoices" / "pdf.html").write_text('{% include "invoices/missing.html" %}')
    # An email to carry it: the attachment is drawn when the worker builds the message.
    (tmp_path / "emails").mkdir()
    (tmp_path / "emails" / "receipt_test_attachment_subject.txt").write_text("Receipt")
    (tmp_path / "emails" / "receipt_test_attachment.txt").write_text("{{ attachment_names }}")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]


def test_an_attachment_that_cannot_be_drawn_is_left_out_and_logged(
    invoice, broken_pdf_template, caplog
):
    email = email_send(
        template="receipt_test_attachment",
        to=["asha@example.co.tz"],
        context={},
        reason=f"invoice {invoice.number}",
        attachments=invoice_pdf_attachment_spec(invoice=invoice),
    )
    message = email_message_build(email)

    assert message.attachments == []
    [record] = [r for r in caplog.records if r.name == "wetech.emails"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == (
        f"attachment invoice_pdf of email receipt_test_attachment for invoice {invoice.number}"
        " could not be drawn: sent without it"
    )


def test_rendering_reads_the_attempts_the_refunds_and_the_lines(invoice, django_assert_num_queries):
    paid(invoice)
    with django_assert_num_queries(3):
        invoice_pdf_render(invoice=invoice)
