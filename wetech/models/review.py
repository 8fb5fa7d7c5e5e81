"""Review cases: a payment that needs a person, with what the gateway said and what we expected.

Opened by settlement (a mismatch, money on a paid or void invoice, a chargeback); closed by staff
with a decision and a reason. While a case is open its invoice shows `needs_review`.
"""

from django.db import models
from django.db.models import Q


class ReviewCase(models.Model):
    class Kind(models.TextChoices):
        MISMATCH = "mismatch", "Amount, currency or reference does not match"
        PAID_TWICE = "paid_twice", "Paid twice"
        VOID_INVOICE = "void_invoice", "Money on a void invoice"
        REVERSAL = "reversal", "Chargeback"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept the money"
        REFUND = "refund", "Refund the customer"
        DISMISS = "dismiss", "Dismiss"

    invoice = models.ForeignKey(
        "wetech.Invoice", on_delete=models.PROTECT, related_name="review_cases"
    )
    attempt = models.ForeignKey(
        "wetech.PaymentAttempt", on_delete=models.PROTECT, related_name="review_cases"
    )
    kind = models.CharField(max_length=14, choices=Kind.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    summary = models.CharField(max_length=255)
    # What the gateway said (status, amount, currency, references, detail) and what the
    # attempt expected, as plain JSON so the case reads the same after the rows move on.
    gateway_said = models.JSONField(default=dict, blank=True)
    expected = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    resolution_reason = models.TextField(blank=True, default="")
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        # Granted to the Finance group (migration 0006).
        permissions = [("resolve_reviewcase", "Can resolve a review case")]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "kind"],
                condition=Q(status="open"),
                name="review_case_one_open_per_attempt_and_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def close(self, *, decision: str, reason: str, actor: str, now) -> None:
        """Mark the case resolved with its decision and why (the caller holds its row lock)."""
        self.status = self.Status.RESOLVED
        self.decision = decision
        self.resolution_reason = reason
        self.resolved_by = actor
        self.resolved_at = now
        self.save(
            update_fields=["status", "decision", "resolution_reason", "resolved_by", "resolved_at"]
        )
