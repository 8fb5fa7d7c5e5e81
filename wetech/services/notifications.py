"""Emails about a new lead: one to staff, one acknowledgement to the customer.

Scheduled with `transaction.on_commit`, so they go out once and only for a lead that exists; a
mail server that fails is logged and never undoes (or errors) the captured lead.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from wetech.models import Invoice, Lead

logger = logging.getLogger(__name__)


def invoice_absolute_url(invoice: Invoice) -> str:
    return f"{settings.SITE_URL}{invoice.get_absolute_url()}"


def _send(*, template: str, to: list[str], context: dict, lead_id: int) -> None:
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    body = render_to_string(f"emails/{template}.txt", context)
    try:
        EmailMessage(subject=subject, body=body, to=to).send()
    except Exception:
        logger.exception("email %s for lead %s could not be sent", template, lead_id)
    else:
        logger.info("email %s for lead %s sent", template, lead_id)


def lead_emails_send(*, lead: Lead, invoice: Invoice | None) -> None:
    context = {
        "lead": lead,
        "invoice": invoice,
        "invoice_url": invoice_absolute_url(invoice) if invoice else "",
        "site_url": settings.SITE_URL,
        "admin_url": f"{settings.SITE_URL}{reverse('admin:wetech_lead_change', args=[lead.pk])}",
    }
    if settings.STAFF_EMAILS:
        _send(
            template="lead_staff",
            to=list(settings.STAFF_EMAILS),
            context=context,
            lead_id=lead.pk,
        )
    _send(template="lead_acknowledgement", to=[lead.email], context=context, lead_id=lead.pk)


def lead_emails_schedule(*, lead: Lead, invoice: Invoice | None) -> None:
    """Send the lead's emails after the surrounding transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: lead_emails_send(lead=lead, invoice=invoice), robust=True)
