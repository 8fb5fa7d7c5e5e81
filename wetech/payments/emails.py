"""Emails about payments: the customer's receipt, staff's "paid" note and staff alerts.

Always scheduled with `transaction.on_commit` by the settlement that caused them, so each goes
out once and only for a change that was really saved. A mail server that fails is logged; it
never undoes (or errors) the settlement.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from wetech.emails import email_send
from wetech.models import Invoice, PaymentAttempt
from wetech.sales.documents import invoice_pdf_attachments
from wetech.sales.emails import invoice_absolute_url

logger = logging.getLogger("wetech.payments")

ALERT_TITLES = {
    "mismatch": "A payment does not match its invoice",
    "refund": "A payment must be refunded",
    "reversal": "A payment was reversed",
}


def _staff_send(*, template: str, context: dict) -> None:
    """An email to staff: in English, whatever the customer's language."""
    email_send(
        template=template,
        to=list(settings.STAFF_EMAILS),
        context=context,
        reason=f"payment {context['ref']}",
        language=settings.LANGUAGE_CODE,
    )


def _context(attempt: PaymentAttempt) -> dict:
    invoice = attempt.invoice
    return {
        "attempt": attempt,
        "invoice": invoice,
        "ref": attempt.merchant_reference,
        "invoice_url": invoice_absolute_url(invoice),
        "admin_url": settings.SITE_URL
        + reverse("admin:wetech_paymentattempt_change", args=[attempt.pk]),
    }


def paid_emails_send(*, invoice_id: int, attempt_id: int) -> None:
    attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt_id)
    context = _context(attempt)
    invoice: Invoice = attempt.invoice
    # The receipt carries the invoice's PDF (tax invoice with its receipt) for the customer's books.
    email_send(
        template="receipt",
        to=[invoice.client_email],
        context=context,
        reason=f"payment {context['ref']}",
        attachments=invoice_pdf_attachments(invoice=invoice),
        # The customer's language, stored with the invoice: the receipt and its PDF are in it.
        language=invoice.language,
    )
    if settings.STAFF_EMAILS:
        _staff_send(template="payment_staff", context=context)


def paid_emails_schedule(*, invoice_id: int, attempt_id: int) -> None:
    transaction.on_commit(
        lambda: paid_emails_send(invoice_id=invoice_id, attempt_id=attempt_id), robust=True
    )


def staff_alert_send(*, attempt_id: int, reason: str, detail: str) -> None:
    if not settings.STAFF_EMAILS:
        logger.error("payment alert (%s) but STAFF_EMAILS is empty: %s", reason, detail)
        return
    attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt_id)
    context = {**_context(attempt), "title": ALERT_TITLES.get(reason, reason), "detail": detail}
    _staff_send(template="payment_alert", context=context)


def staff_alert_schedule(*, attempt_id: int, reason: str, detail: str) -> None:
    transaction.on_commit(
        lambda: staff_alert_send(attempt_id=attempt_id, reason=reason, detail=detail),
        robust=True,
    )
