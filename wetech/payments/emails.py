"""Emails about payments: the customer's receipt, staff's "paid" note and staff alerts.

Always scheduled with `transaction.on_commit` by the settlement (or the staff action) that caused
them, so each goes out once and only for a change that was really saved. A mail server that fails
is logged; it never undoes (or errors) the settlement.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from wetech.emails import email_send
from wetech.models import AuditEntry, PaymentAttempt
from wetech.payments.audit import audit_record
from wetech.sales.emails import invoice_absolute_url

logger = logging.getLogger("wetech.payments")

ALERT_TITLES = {
    "mismatch": "A payment does not match its invoice",
    "refund": "A payment must be refunded",
    "reversal": "A payment was reversed",
}


def _send(*, template: str, to: list[str], context: dict) -> None:
    email_send(template=template, to=to, context=context, reason=f"payment {context['ref']}")


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


def receipt_email_send(*, attempt: PaymentAttempt) -> None:
    """The customer's receipt for one completed payment (the one place that sends it)."""
    _send(template="receipt", to=[attempt.invoice.client_email], context=_context(attempt))


def paid_emails_send(*, invoice_id: int, attempt_id: int) -> None:
    attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt_id)
    receipt_email_send(attempt=attempt)
    if settings.STAFF_EMAILS:
        _send(template="payment_staff", to=list(settings.STAFF_EMAILS), context=_context(attempt))


def paid_emails_schedule(*, invoice_id: int, attempt_id: int) -> None:
    transaction.on_commit(
        lambda: paid_emails_send(invoice_id=invoice_id, attempt_id=attempt_id), robust=True
    )


def receipt_email_resend(
    *, attempt: PaymentAttempt, reason: str, actor: str, user=None
) -> AuditEntry:
    """Send the customer the receipt of a completed payment again (after commit), recorded in
    the audit trail. Raises ReceiptNotAllowed for a payment that did not complete."""
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
        transaction.on_commit(lambda: receipt_email_send(attempt=attempt), robust=True)
    return entry


def staff_alert_send(*, attempt_id: int, reason: str, detail: str) -> None:
    if not settings.STAFF_EMAILS:
        logger.error("payment alert (%s) but STAFF_EMAILS is empty: %s", reason, detail)
        return
    attempt = PaymentAttempt.objects.select_related("invoice").get(pk=attempt_id)
    context = {**_context(attempt), "title": ALERT_TITLES.get(reason, reason), "detail": detail}
    _send(template="payment_alert", to=list(settings.STAFF_EMAILS), context=context)


def staff_alert_schedule(*, attempt_id: int, reason: str, detail: str) -> None:
    transaction.on_commit(
        lambda: staff_alert_send(attempt_id=attempt_id, reason=reason, detail=detail),
        robust=True,
    )
