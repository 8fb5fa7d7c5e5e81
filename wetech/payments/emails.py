"""Emails about payments: the customer's receipt and refund note, staff's "paid" and "refunded"
notes, and staff alerts.

Queued in the outbox inside the transaction that caused them (the settlement, or a staff action;
wetech.emails), so each exists exactly when the change was saved, and goes out once the worker
sends it. A mail server that is slow or down never slows, undoes or errors the settlement.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from wetech.emails import Email, emails_send
from wetech.models import AuditEntry, PaymentAttempt, Refund
from wetech.payments.audit import audit_record
from wetech.sales.documents import invoice_pdf_attachment_spec
from wetech.sales.emails import invoice_absolute_url

logger = logging.getLogger("wetech.payments")

ALERT_TITLES = {
    "mismatch": "A payment does not match its invoice",
    "refund": "A payment must be refunded",
    "reversal": "A payment was reversed",
    "flag_cleared": "A payment must no longer be refunded",
}


def _email(
    *, template: str, to: list[str], context: dict, attachments=None, language: str = ""
) -> Email:
    """One payment email. `language`: the customer's (stored with the invoice) for what the
    customer reads; staff read English (the default)."""
    return Email(
        template=template,
        to=to,
        context=context,
        reason=f"payment {context['ref']}",
        attachments=attachments,
        language=language or settings.LANGUAGE_CODE,
    )


def _send(**email) -> None:
    """Queue one payment email (`_email`'s arguments)."""
    emails_send([_email(**email)])


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


class ReceiptNotAllowed(Exception):
    """There is no receipt to send for this payment (it did not complete)."""


def _receipt(attempt: PaymentAttempt, context: dict) -> Email:
    return _email(
        template="receipt",
        to=[attempt.invoice.client_email],
        context=context,
        attachments=invoice_pdf_attachment_spec(invoice=attempt.invoice),
        # The customer's language, stored with the invoice: the receipt and its PDF are in it.
        language=attempt.invoice.language,
    )


def receipt_email_send(*, attempt: PaymentAttempt) -> None:
    """Queue the customer's receipt for one completed payment (the one place that sends it),
    with the invoice's PDF (tax invoice with its receipt) for the customer's books."""
    emails_send([_receipt(attempt, _context(attempt))])


def paid_emails_schedule(*, attempt: PaymentAttempt) -> None:
    """Queue the receipt and staff's note about `attempt` (with its invoice as the settlement
    holds them), in the caller's transaction: one INSERT for both."""
    context = _context(attempt)
    emails = [_receipt(attempt, context)]
    if settings.STAFF_EMAILS:
        emails.append(
            _email(template="payment_staff", to=list(settings.STAFF_EMAILS), context=context)
        )
    emails_send(emails)


def receipt_email_resend(
    *, attempt: PaymentAttempt, reason: str, actor: str, user=None
) -> AuditEntry:
    """Send the customer the receipt of a completed payment again, recorded in the audit trail
    (the email and the entry are written together). Raises ReceiptNotAllowed for a payment that
    did not complete."""
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt.pk)
        if attempt.status != PaymentAttempt.Status.COMPLETED:
            raise ReceiptNotAllowed(
                f"payment {attempt.merchant_reference} is {attempt.get_status_display().lower()}:"
                " only a completed payment has a receipt"
            )
        entry = audit_record(
            actor=actor,
            user=user,
            action=AuditEntry.Action.EMAIL_RESENT,
            invoice=attempt.invoice,
            attempt=attempt,
            reason=reason,
            data={"email": "receipt", "to": "customer"},
        )
        receipt_email_send(attempt=attempt)
    return entry


def staff_alert_schedule(*, attempt_id: int, reason: str, detail: str) -> None:
    """Queue an alert to staff about the attempt, in the caller's transaction."""
    if not settings.STAFF_EMAILS:
        logger.error("payment alert (%s) but STAFF_EMAILS is empty: %s", reason, detail)
        return
    attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt_id)
    context = {**_context(attempt), "title": ALERT_TITLES.get(reason, reason), "detail": detail}
    _send(template="payment_alert", to=list(settings.STAFF_EMAILS), context=context)


def _refund_context(refund: Refund) -> dict:
    return {
        **_context(refund.attempt),
        "refund": refund,
        "credit_note": getattr(refund, "credit_note", None),
        "ref": refund.reference,
    }


def refund_emails_schedule(*, refund_id: int) -> None:
    """Queue the customer's note of a completed refund, with its credit note, and staff's copy,
    in the caller's transaction."""
    refund = Refund.objects.select_related("attempt__invoice", "credit_note").get(pk=refund_id)
    context = _refund_context(refund)
    emails = [
        _email(
            template="refund_customer",
            to=[refund.attempt.invoice.client_email],
            context=context,
            language=refund.attempt.invoice.language,
        )
    ]
    if settings.STAFF_EMAILS:
        emails.append(
            _email(
                template="refund_staff",
                to=list(settings.STAFF_EMAILS),
                context={**context, "title": "A refund is complete", "detail": ""},
            )
        )
    emails_send(emails)


def refund_staff_alert_send(*, refund_id: int, title: str, detail: str) -> None:
    """Tell staff about a refund that needs them (e.g. one the gateway has not confirmed)."""
    if not settings.STAFF_EMAILS:
        logger.error("refund alert (%s) but STAFF_EMAILS is empty: %s", title, detail)
        return
    refund = Refund.objects.select_related("attempt__invoice").get(pk=refund_id)
    context = {**_refund_context(refund), "title": title, "detail": detail}
    _send(template="refund_staff", to=list(settings.STAFF_EMAILS), context=context)
