"""Money that goes back: refunds (requested, then completed when the gateway confirms) and the
credit notes that document them.

A refund's money movement is a `LedgerEntry` of kind REFUND keyed by the refund's own
`reference`; this row is the conversation about it (who asked, why, what the gateway said).
"""

from django.db import models
from django.db.models import Q


class Refund(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"

    class Method(models.TextChoices):
        GATEWAY = "gateway", "Through the gateway's refund API"
        MANUAL = "manual", "Made by hand and recorded here"

    invoice = models.ForeignKey("wetech.Invoice", on_delete=models.PROTECT, related_name="refunds")
    attempt = models.ForeignKey(
        "wetech.PaymentAttempt", on_delete=models.PROTECT, related_name="refunds"
    )
    # Ours, unique: the REFUND ledger entry is keyed by it.
    reference = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=10, choices=Method.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    reason = models.TextField()
    requested_by = models.CharField(max_length=150)
    # The mobile-money (or bank) reference of a refund made by hand.
    external_reference = models.CharField(max_length=100, blank=True, default="")
    gateway_message = models.CharField(max_length=255, blank=True, default="")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When staff were told the gateway had not confirmed it in REFUND_ALERT_AFTER_DAYS (once).
    alerted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            # One refund in flight per payment: a second request waits for the first to end.
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(status="requested"),
                name="refund_one_in_flight_per_payment",
            ),
        ]

    def __str__(self):
        return f"Refund {self.reference} ({self.amount} {self.currency}, {self.status})"


class CreditNoteCounter(models.Model):
    """The last credit-note number used in a year (row lock: gapless, unique), like invoices."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-year"]

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class CreditNote(models.Model):
    """The document a customer gets for a completed refund: `CN-<year>-<5 digits>`."""

    number = models.CharField(max_length=20, unique=True)
    invoice = models.ForeignKey(
        "wetech.Invoice", on_delete=models.PROTECT, related_name="credit_notes"
    )
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, related_name="credit_note")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255, blank=True, default="")
    issued_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["issued_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
        ]

    def __str__(self):
        return self.number
