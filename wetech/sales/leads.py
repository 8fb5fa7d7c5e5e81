"""Capturing a lead: the client, the lead and, for a priced service, the issued invoice."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Q, When
from django.utils import timezone

from wetech.models import Client, Invoice, Lead, Service
from wetech.redaction import mask_credential_paths
from wetech.sales.emails import lead_emails_schedule
from wetech.sales.invoicing import invoice_create_for_lead, invoice_issue_new

logger = logging.getLogger(__name__)


def client_get_or_create(*, name: str, email: str, phone: str, company: str = "") -> Client:
    """The client with this exact email, else this exact E.164 phone, else a new one.

    `email` and `phone` must already be normalised (the form does it). Runs inside the caller's
    transaction; a concurrent insert of the same email is caught in a savepoint and the winner's
    row is used, so a race never creates a duplicate nor breaks the outer transaction.
    """
    # One query: an email match wins over a phone match, then the oldest client.
    client = (
        Client.objects.filter(Q(email=email) | Q(phone=phone))
        .order_by(Case(When(email=email, then=0), default=1), "pk")
        .first()
    )
    if client is not None:
        return client
    try:
        with transaction.atomic():
            return Client.objects.create(name=name, email=email, phone=phone, company=company)
    except IntegrityError:
        return Client.objects.get(email=email)


def lead_capture(
    *,
    name: str,
    email: str,
    phone: str,
    company: str = "",
    tin: str = "",
    service: Service | None = None,
    message: str = "",
    marketing_consent: bool = False,
    ip_address: str | None = None,
    source_page: str = "",
    landing_page: str = "",
    referrer: str = "",
    utm: dict | None = None,
    language: str = settings.LANGUAGE_CODE,
) -> tuple[Lead, Invoice | None]:
    """Store a lead (and its invoice, when the service has a price) all or nothing.

    Inputs are cleaned values from `LeadForm` (`tin`: the buyer's 9 digits, or ""). `language` is
    the customer's (one of `settings.LANGUAGES`): the lead and its invoice keep it, and every
    email and document for them is written in it. The staff
    email and the customer's acknowledgement are sent once, after the commit.
    """
    utm = utm or {}
    with transaction.atomic():
        client = client_get_or_create(name=name, email=email, phone=phone, company=company)
        lead = Lead.objects.create(
            client=client,
            service=service,
            name=name,
            email=email,
            phone=phone,
            company=company,
            tin=tin,
            message=message,
            # An invoice's token grants access to it: a page address never stores one.
            source_page=mask_credential_paths(source_page)[:200],
            landing_page=mask_credential_paths(landing_page)[:500],
            referrer=mask_credential_paths(referrer)[:500],
            marketing_consent=marketing_consent,
            language=language,
            consent_at=timezone.now() if marketing_consent else None,
            consent_ip=ip_address if marketing_consent and ip_address else None,
            **{field: utm.get(field, "")[:200] for field in Lead.UTM_FIELDS},
        )
        invoice = invoice_create_for_lead(lead=lead)
        lead_emails_schedule(lead=lead, invoice=invoice)
        if invoice is not None:
            # Last: the year's invoice number is locked from here until the commit, and every
            # other lead for a priced service waits on it.
            invoice = invoice_issue_new(invoice=invoice)
    logger.info(
        "lead %s captured (service %s, invoice %s)",
        lead.pk,
        service.slug if service else "-",
        invoice.number if invoice else "-",
    )
    return lead, invoice
