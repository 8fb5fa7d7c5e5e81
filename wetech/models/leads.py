"""People who contacted us (Client) and each time they did (Lead)."""

from django.conf import settings
from django.db import models


class Client(models.Model):
    """One person or business, found again by exact email or exact E.164 phone, never fuzzily."""

    name = models.CharField(max_length=120)
    # Stored normalised (trimmed, lowercased) so the unique constraint is the dedupe rule.
    email = models.EmailField(max_length=254, unique=True)
    phone = models.CharField(max_length=20, db_index=True, help_text="E.164, e.g. +255712345678")
    company = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The back office lists clients newest first.
            models.Index(fields=["created_at"], name="client_created_at"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="leads")
    service = models.ForeignKey(
        "wetech.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="leads"
    )
    # What the person typed this time; the client row keeps what we first learned about them.
    name = models.CharField(max_length=120)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=20)
    company = models.CharField(max_length=120, blank=True)
    # Taxpayer Identification Number, 9 digits without dashes (optional).
    tin = models.CharField(max_length=9, blank=True, default="")
    message = models.TextField(blank=True)
    source_page = models.CharField(max_length=200, blank=True, help_text="Path the form was on.")
    landing_page = models.CharField(max_length=500, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    marketing_consent = models.BooleanField(default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    # The customer's language: the /sw/ prefix of the page the form was on, or a JSON client's
    # Accept-Language. Their emails (and the invoice issued for the lead) are written in it.
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            # One acknowledgement per address per hour counts recent leads by email.
            models.Index(fields=["email", "created_at"], name="lead_email_recent"),
            # The back office finds a lead by the phone number typed (E.164, exactly).
            models.Index(fields=["phone"], name="lead_phone"),
        ]
        constraints = [
            # Consent without its evidence is worth nothing to a regulator.
            models.CheckConstraint(
                condition=models.Q(marketing_consent=False) | models.Q(consent_at__isnull=False),
                name="lead_consent_has_time",
            )
        ]

    def __str__(self):
        service = self.service.name if self.service_id else "General enquiry"
        return f"{self.name}: {service}"
