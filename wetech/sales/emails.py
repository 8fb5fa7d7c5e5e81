"""Emails about a new lead (one to staff, one acknowledgement to the customer) and the
customer's invoice email.

Queued in the outbox inside the lead's transaction (wetech.emails), so they exist exactly when
the lead does; the worker sends them, so a mail server that is slow or down never slows, undoes
or errors the captured lead.

The acknowledgement goes to an address anybody can type, so it must not be a spam relay: it
carries nothing the visitor wrote except a short name, and one address gets at most one per
hour (counted from the leads in the database). A priced lead's invoice link is never held back:
over that cap the customer gets the short invoice email instead.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from wetech.emails import Email, email_send, emails_send
from wetech.models import Invoice, Lead

logger = logging.getLogger(__name__)

ACKNOWLEDGEMENT_NAME_MAX_CHARS = 40
ACKNOWLEDGEMENT_INTERVAL = timedelta(hours=1)
# Something a mail client would turn into a link or an address: then the greeting has no name.
_LINK_LIKE = re.compile(r"[/@:<>\\]|\.\w")


def short_name(name: str) -> str:
    """The name as the acknowledgement may greet it: one line, at most 40 characters, and
    nothing that reads as a link or an address ("" then)."""
    name = " ".join((name or "").split())
    if _LINK_LIKE.search(name):
        return ""
    return name[:ACKNOWLEDGEMENT_NAME_MAX_CHARS].rstrip()


def acknowledged_lately(lead: Lead) -> bool:
    """Did an earlier lead to the same address arrive within the last hour (so it had its
    acknowledgement, or was itself over the cap)?"""
    return Lead.objects.filter(
        email=lead.email,
        created_at__gte=lead.created_at - ACKNOWLEDGEMENT_INTERVAL,
        pk__lt=lead.pk,
    ).exists()


def invoice_absolute_url(invoice: Invoice) -> str:
    """The invoice's link, in the invoice's language (/sw/invoices/... for Kiswahili), whatever
    language is active where it is built."""
    with translation.override(invoice.language):
        return f"{settings.SITE_URL}{invoice.get_absolute_url()}"


def home_absolute_url(language: str) -> str:
    with translation.override(language):
        return f"{settings.SITE_URL}{reverse('home')}"


def lead_emails_schedule(*, lead: Lead, invoice: Invoice | None) -> None:
    """Queue the lead's emails in the caller's transaction (none if it rolls back)."""
    context = {
        "lead": lead,
        "short_name": short_name(lead.name),
        "invoice": invoice,
        "invoice_url": invoice_absolute_url(invoice) if invoice else "",
        # The customer's way back to us: the home page in their language.
        "site_url": home_absolute_url(lead.language),
        "admin_url": f"{settings.SITE_URL}{reverse('admin:wetech_lead_change', args=[lead.pk])}",
    }
    reason = f"lead {lead.pk}"
    emails = []
    if settings.STAFF_EMAILS:
        # Staff read English, whatever the customer's language.
        emails.append(
            Email(
                template="lead_staff",
                to=list(settings.STAFF_EMAILS),
                context=context,
                reason=reason,
                language=settings.LANGUAGE_CODE,
            )
        )
    # The customer's emails are in the language they wrote to us in (their invoice's is the same).
    customer = {"to": [lead.email], "context": context, "reason": reason, "language": lead.language}
    if not acknowledged_lately(lead):
        emails.append(Email(template="lead_acknowledgement", **customer))
    elif invoice is not None:
        emails.append(Email(template="invoice", **customer))
    else:
        logger.info(
            "email lead_acknowledgement for lead %s not sent: this address had one within %s",
            lead.pk,
            ACKNOWLEDGEMENT_INTERVAL,
        )
    emails_send(emails)


def invoice_email_schedule(*, invoice: Invoice) -> None:
    """Queue the customer's invoice email (number, total, the link to view and pay it) in the
    caller's transaction."""
    context = {
        "invoice": invoice,
        "invoice_url": invoice_absolute_url(invoice),
        "site_url": home_absolute_url(invoice.language),
    }
    email_send(
        template="invoice",
        to=[invoice.client_email],
        context=context,
        reason=f"invoice {invoice.number}",
        # The customer's language, stored with the invoice.
        language=invoice.language,
    )
