"""Payment emails: the customer's receipt carries the tax invoice with its receipt as a PDF."""

import logging
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.test import RequestFactory
from django.utils import translation

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


@time_machine.travel(datetime(2026, 11, 30, 7, 15, tzinfo=UTC), tick=True)
def test_a_kiswahili_invoice_gets_its_receipt_and_pdf_in_kiswahili_whoever_pays(
    pesapal, settings, django_capture_on_commit_callbacks
):
    settings.STAFF_EMAILS = ["sales@wetech.co.tz"]
    invoice = issued_invoice(language="sw")
    with translation.override("en"):  # the IPN's URL has no language: the invoice's decides
        attempt = _paid_through_the_pipeline(pesapal, invoice, django_capture_on_commit_callbacks)

    [receipt] = [m for m in outbox_deliver() if m.to == ["asha@example.co.tz"]]
    assert receipt.subject == f"Risiti: ankara {invoice.number} imelipwa, TZS 413,000"
    assert receipt.body.startswith("Habari Asha Mwinyi,\n")
    assert f"Tumepokea malipo yako ya ankara {invoice.number}. Asante!" in receipt.body
    # The labels make one column, however long they are in Kiswahili.
    assert f"{'Kiasi kilicholipwa:':22}TZS 413,000\n" in receipt.body
    assert f"{'Tarehe ya malipo:':22}30 Novemba 2026, 10:15\n" in receipt.body
    assert f"{'Kumbukumbu yetu:':22}{attempt.merchant_reference}" in receipt.body
    assert f"{settings.SITE_URL}/sw/invoices/{invoice.token}/" in receipt.body
    [(_, content, _)] = receipt.attachments
    text = pdf_text(content)
    for expected in (
        "ANKARA YA KODI",
        "IMELIPWA",
        "Tarehe ya kutolewa\n30 Novemba 2026",
        "Jumla ndogo\nTZS 350,000",
        "VAT 18%\nTZS 63,000",
        "Jumla kuu\nTZS 413,000",
        "RISITI",
        f"Kumbukumbu yetu\n{attempt.merchant_reference}",
        "Ukurasa 1 kati ya 1",
    ):
        assert expected in text
    assert "Tax invoice" not in text
    # Staff's note stays English.
    [staff] = [m for m in mail.outbox if m.to == ["sales@wetech.co.tz"]]
    assert staff.subject.startswith(f"Paid: invoice {invoice.number}")


def test_an_english_invoice_keeps_its_english_receipt_in_a_kiswahili_request(
    pesapal, invoice, django_capture_on_commit_callbacks
):
    with translation.override("sw"):
        _paid_through_the_pipeline(pesapal, invoice, django_capture_on_commit_callbacks)
    receipt = _receipt()
    assert receipt.body.startswith("Hello Asha Mwinyi,\n")
    assert "TAX INVOICE" in pdf_text(receipt.attachments[0][1])
