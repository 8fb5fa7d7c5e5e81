"""Payment emails: the customer's receipt carries the tax invoice with its receipt as a PDF."""

import logging

import pytest
from django.core import mail
from django.test import RequestFactory

from wetech.models import PaymentAttempt
from wetech.payments.emails import paid_emails_schedule
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.inbox import notification_process, notification_record
from wetech.payments.start import payment_start
from wetech.tests.document_helpers import pdf_text
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(settings):
    settings.COMPANY_TIN = "123-456-789"
    settings.COMPANY_VRN = "40-012345-A"
    return issued_invoice()


def _paid_through_the_pipeline(pesapal, invoice, capture_on_commit) -> PaymentAttempt:
    attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    request = RequestFactory().get(
        "/payments/pesapal/ipn/",
        {
            "OrderTrackingId": attempt.gateway_reference,
            "OrderMerchantReference": attempt.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        },
    )
    with capture_on_commit(execute=True):
        notification = notification_record(gateway="pesapal", kind="ipn", request=request)
        notification_process(notification=notification)
    attempt.refresh_from_db()
    return attempt


def _receipt():
    outbox_deliver()
    [receipt] = [m for m in mail.outbox if m.subject.startswith("Receipt")]
    return receipt


def test_the_receipt_carries_the_paid_invoice_as_a_pdf(
    pesapal, invoice, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.INFO, logger="wetech.emails")

    attempt = _paid_through_the_pipeline(pesapal, invoice, django_capture_on_commit_callbacks)

    receipt = _receipt()
    assert receipt.to == ["asha@example.co.tz"]
    [(filename, content, mimetype)] = receipt.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    text = pdf_text(content)
    for expected in (
        "TAX INVOICE",
        invoice.number,
        "PAID",
        "TIN 123-456-789 · VRN 40-012345-A",
        "VAT 18%\nTZS 63,000",
        "Total\nTZS 413,000",
        "RECEIPT",
        f"Our reference\n{attempt.merchant_reference}",
        "Confirmation code\nPSP123ABC",
    ):
        assert expected in text
    assert f"Your tax invoice with this receipt is attached ({invoice.number}.pdf)." in receipt.body
    assert "TIN 123-456-789 · VRN 40-012345-A" in receipt.body
    assert f"email receipt for payment {attempt.merchant_reference} sent" in caplog.messages
    # Staff's "paid" note needs no copy of the document.
    [staff] = [m for m in mail.outbox if m.subject.startswith("Paid:")]
    assert staff.attachments == []


def test_a_pdf_that_cannot_be_drawn_does_not_hold_back_the_receipt(
    pesapal, invoice, django_capture_on_commit_callbacks, settings, tmp_path, caplog
):
    attempt = _paid_through_the_pipeline(pesapal, invoice, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    (tmp_path / "invoices").mkdir()
    (tmp_path / "invoices" / "pdf.html").write_text('{% include "invoices/missing.html" %}')
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]

    outbox_deliver()
    mail.outbox.clear()
    paid_emails_schedule(attempt=PaymentAttempt.objects.get(pk=attempt.pk))

    receipt = _receipt()
    assert receipt.attachments == []
    assert "attached" not in receipt.body
    assert f"/invoices/{invoice.token}/" in receipt.body  # the PDF stays at the invoice's link
    assert (
        f"attachment invoice_pdf of email receipt for payment {attempt.merchant_reference}"
        " could not be drawn: sent without it"
    ) in caplog.messages
