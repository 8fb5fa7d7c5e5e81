"""The audit trail: who did what to money or an invoice, when and why. Append-only."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntryLocked(Exception):
    """An attempt to change or delete what the audit trail already says."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditEntryLocked("audit entries cannot change")

    def delete(self):
        raise AuditEntryLocked("audit entries cannot be deleted")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        REFUND_REQUESTED = "refund_requested", "Refund requested"
        REFUND_COMPLETED = "refund_completed", "Refund completed"
        REFUND_REJECTED = "refund_rejected", "Refund rejected by the gateway"
        REFUND_RECORDED = "refund_recorded", "Manual refund recorded"
        CHARGEBACK = "chargeback", "Chargeback recorded"
        FLAG_CLEARED = "flag_cleared", "Refund flag cleared"
        REVIEW_OPENED = "review_opened", "Review case opened"
        REVIEW_ACCEPTED = "review_accepted", "Review case: money accepted"
        REVIEW_REFUNDED = "review_refunded", "Review case: refund decided"
        REVIEW_DISMISSED = "review_dismissed", "Review case dismissed"
        INVOICE_VOIDED = "invoice_voided", "Invoice voided"
        INVOICE_ISSUED = "invoice_issued", "Invoice issued by staff"
        EMAIL_RESENT = "email_resent", "Email sent again"

    # The name as it was (a username, the OS user of a command, or "system").
    actor = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    invoice = models.ForeignKey(
        "wetech.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    attempt = models.ForeignKey(
        "wetech.PaymentAttempt",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    reason = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        what = f"{self.actor}: {self.get_action_display()}"
        if self.created_at is None:
            return what
        # Local time, as every admin page shows it (stored in UTC).
        return f"{timezone.localtime(self.created_at):%Y-%m-%d %H:%M} {what}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditEntryLocked("audit entries cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryLocked("audit entries cannot be deleted")
