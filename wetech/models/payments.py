"""Payments: our attempts to collect an invoice, the gateways' raw notifications, and the ledger.

The ledger is the truth about money: an invoice is paid when its ledger says so. Attempts track
one conversation with one gateway; notifications keep what each gateway told us, as received, so
a dispute can be answered and a message replayed.
"""

import secrets

from django.db import models
from django.db.models import Q

OPEN_STATUSES = ("initiated", "pending")


class Gateway(models.TextChoices):
    PESAPAL = "pesapal", "Pesapal"
    AZAMPAY = "azampay", "AzamPay"


def new_merchant_reference(invoice_number: str) -> str:
    """Our reference for one attempt: the invoice number plus 8 random hex digits.

    Fresh for every attempt (Pesapal wants a new `id` per order), at most 50 characters of
    letters, digits and hyphens, and readable on a bank statement.
    """
    return f"{invoice_number}-{secrets.token_hex(4).upper()}"


class PaymentAttempt(models.Model):
    class Status(models.TextChoices):
        INITIATED = "initiated", "Initiated"
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        NEEDS_REVIEW = "needs_review", "Needs review"

    class Provider(models.TextChoices):
        AIRTEL = "Airtel", "Airtel Money"
        TIGO = "Tigo", "Mixx by Yas (Tigo Pesa)"
        HALOPESA = "Halopesa", "Halopesa"
        AZAMPESA = "Azampesa", "Azampesa"
        MPESA = "Mpesa", "M-Pesa"

    invoice = models.ForeignKey(
        "wetech.Invoice", on_delete=models.PROTECT, related_name="payment_attempts"
    )
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    merchant_reference = models.CharField(max_length=50, unique=True)
    # Pesapal's order_tracking_id or AzamPay's transactionId; empty until the gateway names it.
    gateway_reference = models.CharField(max_length=100, blank=True, default="")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    payer_phone = models.CharField(max_length=20, blank=True, default="")
    provider = models.CharField(max_length=10, choices=Provider.choices, blank=True, default="")
    # The gateway's hosted page; written by the payment service only, never typed in.
    redirect_url = models.CharField(max_length=1000, blank=True, default="")
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.INITIATED, db_index=True
    )
    status_detail = models.CharField(max_length=255, blank=True, default="")
    confirmation_code = models.CharField(max_length=100, blank=True, default="")
    payment_method = models.CharField(max_length=60, blank=True, default="")
    # Money arrived for an invoice that was already paid (or void): it must go back.
    needs_refund = models.BooleanField(default=False, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    check_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Granted to the Finance group (migration 0006).
        permissions = [("refund_payment", "Can refund a completed payment")]
        indexes = [
            # The AzamPay push limit per phone number counts recent attempts by phone.
            models.Index(fields=["payer_phone", "created_at"], name="payment_attempt_phone_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~Q(gateway_reference=""),
                name="payment_attempt_gateway_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["invoice", "gateway"],
                condition=Q(status__in=OPEN_STATUSES),
                name="payment_attempt_one_open_per_gateway",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payment_attempt_amount_positive"
            ),
        ]

    def __str__(self):
        return f"{self.merchant_reference} ({self.get_gateway_display()}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class GatewayNotification(models.Model):
    """One message from a gateway as received (secrets and phone numbers masked)."""

    class Kind(models.TextChoices):
        IPN = "ipn", "IPN"
        CALLBACK = "callback", "Server callback"
        BROWSER_RETURN = "browser_return", "Browser return"

    class Result(models.TextChoices):
        RECEIVED = "received", "Received"
        APPLIED = "applied", "Applied"
        DUPLICATE = "duplicate", "Duplicate"
        IGNORED = "ignored", "Ignored"
        REJECTED = "rejected", "Rejected"
        ERROR = "error", "Error"

    # What one message may store (issue 10): an honest IPN or callback is well under 1 KB, junk
    # is cut (and marked) so a flood cannot grow the inbox by more than this per row.
    MAX_BODY_CHARS = 8_000
    MAX_QUERY_CHARS = 2_000
    MAX_HEADER_CHARS = 256
    TRUNCATION_MARK = "…[truncated]"

    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    method = models.CharField(max_length=8)
    headers = models.JSONField(default=dict, blank=True)
    query_string = models.TextField(blank=True, default="")
    body = models.TextField(blank=True, default="")
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempt = models.ForeignKey(
        PaymentAttempt,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    result = models.CharField(
        max_length=10, choices=Result.choices, default=Result.RECEIVED, db_index=True
    )
    error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.get_gateway_display()} {self.get_kind_display()} #{self.pk}"


class LedgerEntry(models.Model):
    """Money that moved. Never edited; a reversal or refund is a new entry."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REVERSAL = "reversal", "Reversal"
        REFUND = "refund", "Refund"

    invoice = models.ForeignKey(
        "wetech.Invoice", on_delete=models.PROTECT, related_name="ledger_entries"
    )
    attempt = models.ForeignKey(
        PaymentAttempt, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    gateway_reference = models.CharField(max_length=100)
    confirmation_code = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference", "kind"],
                name="ledger_entry_once_per_gateway_reference",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_entry_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.gateway_reference})"

    @property
    def signed_amount(self):
        return self.amount if self.kind == self.Kind.PAYMENT else -self.amount
