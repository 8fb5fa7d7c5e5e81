"""Invoices, their lines and the per-year counter that numbers them.

Once an invoice leaves draft its number, client snapshot, lines and totals are the document the
customer holds and the tax office may ask for: they can no longer change. Only its status (and
when it was paid) moves on.

What an invoice's ledger makes of it is the invoice's own rule (`Invoice.status_from_ledger`
over `LedgerTotals`, and its SQL twin `InvoiceQuerySet.with_ledger_net`), so settlement, refunds,
the status page and the integrity audit cannot drift apart. With P = payments, R = reversals
(chargebacks) and F = completed refunds, in the invoice's currency: `refunded` when F > 0 and
P - R - F <= 0; `paid` when P - R covers the total (a partial refund keeps it paid); otherwise
`issued`, or `needs_review` while a review case is open on it. Draft and void stay as they are.
"""

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from wetech.models.payments import LedgerEntry
from wetech.models.review import ReviewCase
from wetech.money import DEFAULT_CURRENCY, format_rate_percent, quantize

# SQLite sums decimals in floating point (100.10 + 100.20 falls a hair short of 200.30): SQL
# money comparisons allow half a cent, which hides no real difference between whole cents.
HALF_CENT = Decimal("0.005")
_LEDGER_NET = models.DecimalField(max_digits=16, decimal_places=2)


@dataclass(frozen=True)
class LedgerTotals:
    """One invoice's ledger in its own currency (entries in another currency never count)."""

    payments: Decimal = Decimal("0.00")
    reversals: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")

    @property
    def collected(self) -> Decimal:
        """P - R: what the customers paid and kept paid (refunds are WeTech's choice)."""
        return self.payments - self.reversals

    @property
    def held(self) -> Decimal:
        """P - R - F: what WeTech holds (the status page's `amount_paid`)."""
        return self.payments - self.reversals - self.refunds


class InvoiceLocked(Exception):
    """An attempt to change what an issued invoice says."""


def new_invoice_token() -> str:
    # 32 random bytes: the token alone grants sight of the invoice, so it must be unguessable.
    return secrets.token_urlsafe(32)


class InvoiceCounter(models.Model):
    """The last number used in a year; its row lock serialises numbering (gapless, unique)."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-year"]

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class InvoiceQuerySet(models.QuerySet):
    def with_ledger_net(self):
        """Annotate each invoice with its ledger, in one query whatever the number of invoices:
        `ledger_payments`, `ledger_reversals`, `ledger_refunds` (P, R, F in the invoice's own
        currency), `ledger_net` (P - R - F, what WeTech holds), `ledger_covers` (the SQL form of
        `Invoice.is_covered_by` on P - R), `ledger_refunded` (F > 0 and P - R - F <= 0),
        `review_open` and `ledger_status`: the SQL form of `Invoice.status_from_ledger`.

        On SQLite the sums may be off by a float hair: read them through `quantize` (the
        comparisons here allow half a cent, which hides no real difference between cents).
        """
        in_currency = models.Q(ledger_entries__currency=models.F("currency"))
        zero = models.Value(Decimal("0"), output_field=_LEDGER_NET)

        def ledger_sum(kind):
            return Coalesce(
                models.Sum(
                    "ledger_entries__amount",
                    filter=in_currency & models.Q(ledger_entries__kind=kind),
                ),
                zero,
                output_field=_LEDGER_NET,
            )

        def difference(*names):
            expression = models.F(names[0])
            for name in names[1:]:
                expression = expression - models.F(name)
            return models.ExpressionWrapper(expression, output_field=_LEDGER_NET)

        open_case = ReviewCase.objects.filter(
            invoice=models.OuterRef("pk"), status=ReviewCase.Status.OPEN
        )
        Status = Invoice.Status
        return (
            self.annotate(
                ledger_payments=ledger_sum(LedgerEntry.Kind.PAYMENT),
                ledger_reversals=ledger_sum(LedgerEntry.Kind.REVERSAL),
                ledger_refunds=ledger_sum(LedgerEntry.Kind.REFUND),
            )
            .annotate(
                ledger_collected=difference("ledger_payments", "ledger_reversals"),
                ledger_net=difference("ledger_payments", "ledger_reversals", "ledger_refunds"),
            )
            .annotate(
                ledger_covers=models.ExpressionWrapper(
                    models.Q(ledger_collected__gt=HALF_CENT)
                    & models.Q(ledger_collected__gt=models.F("total") - HALF_CENT),
                    output_field=models.BooleanField(),
                ),
                ledger_refunded=models.ExpressionWrapper(
                    models.Q(ledger_refunds__gt=HALF_CENT) & models.Q(ledger_net__lt=HALF_CENT),
                    output_field=models.BooleanField(),
                ),
                review_open=models.Exists(open_case),
            )
            .annotate(
                ledger_status=models.Case(
                    models.When(status__in=[Status.DRAFT, Status.VOID], then=models.F("status")),
                    models.When(ledger_refunded=True, then=models.Value(Status.REFUNDED)),
                    models.When(ledger_covers=True, then=models.Value(Status.PAID)),
                    models.When(review_open=True, then=models.Value(Status.NEEDS_REVIEW)),
                    default=models.Value(Status.ISSUED),
                    output_field=models.CharField(),
                )
            )
        )


class Invoice(models.Model):
    class Status(models.TextChoices):
        # The label is the badge on the customer's invoice: in their language.
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")
        NEEDS_REVIEW = "needs_review", _("Needs review")
        REFUNDED = "refunded", _("Refunded")

    # What an issued invoice states; see the module docstring.
    FROZEN_FIELDS = (
        "number",
        "token",
        "client_id",
        "client_name",
        "client_email",
        "client_phone",
        "client_company",
        "client_tin",
        "language",
        "currency",
        "subtotal",
        "tax_rate",
        "tax",
        "total",
        "issued_at",
        "due_date",
    )

    # What may still change once issued.
    MOVABLE_FIELDS = frozenset({"status", "paid_at", "updated_at"})

    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    token = models.CharField(max_length=64, unique=True, default=new_invoice_token, editable=False)
    client = models.ForeignKey("wetech.Client", on_delete=models.PROTECT, related_name="invoices")
    lead = models.OneToOneField(
        "wetech.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice",
    )
    client_name = models.CharField(max_length=120)
    client_email = models.EmailField(max_length=254)
    client_phone = models.CharField(max_length=20)
    client_company = models.CharField(max_length=120, blank=True)
    # The buyer's Tanzanian TIN (9 digits) when they gave one: a tax invoice shows it.
    client_tin = models.CharField(max_length=9, blank=True, default="")
    # The customer's language (their lead's): the PDF, the receipt and every email about the
    # invoice are in it, whoever asks later; its lines were written in it at issue. (The page
    # follows its URL: /sw/invoices/... in Kiswahili.)
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # Staff actions beyond add/change (granted to the Sales group, migration 0006).
        permissions = [
            ("void_invoice", "Can void an unpaid invoice"),
            ("issue_invoice", "Can issue an invoice with lines typed by staff"),
            ("resend_email", "Can send an invoice or receipt email again"),
        ]
        indexes = [
            # The back office lists invoices newest first, and finds them by the client's
            # email or phone as the invoice states them (exactly).
            models.Index(fields=["created_at"], name="invoice_created_at"),
            models.Index(fields=["client_email"], name="invoice_client_email"),
            models.Index(fields=["client_phone"], name="invoice_client_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | (models.Q(number__isnull=False) & models.Q(issued_at__isnull=False)),
                name="invoice_issued_has_number",
            ),
            # Within half a cent rather than equal: SQLite does this sum in floating point
            # (100.10 + 18.02 != 118.12 there); for two-place decimals it is the same rule.
            models.CheckConstraint(
                condition=models.Q(
                    total__gte=models.F("subtotal") + models.F("tax") - HALF_CENT,
                    total__lte=models.F("subtotal") + models.F("tax") + HALF_CENT,
                ),
                name="invoice_total_is_subtotal_plus_tax",
            ),
            models.CheckConstraint(
                condition=models.Q(subtotal__gte=0) & models.Q(tax__gte=0),
                name="invoice_amounts_not_negative",
            ),
        ]

    def __str__(self):
        return self.number or f"Draft invoice for {self.client_name}"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if (
            update_fields is not None
            and set(update_fields) <= self.MOVABLE_FIELDS
            and self.status != self.Status.DRAFT
        ):
            # Only the status moves on, and not back to draft: nothing the customer holds can
            # change, so the stored copy need not be read (this is the payment pipeline's path).
            return super().save(*args, **kwargs)
        stored = self._stored()
        if stored and stored["status"] != self.Status.DRAFT:
            changed = [f for f in self.FROZEN_FIELDS if getattr(self, f) != stored[f]]
            if changed or self.status == self.Status.DRAFT:
                raise InvoiceLocked(
                    f"Invoice {stored['number']} is {stored['status']}: "
                    f"{', '.join(changed) or 'status'} can no longer change."
                )
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("invoice_detail", args=[self.token])

    def delete(self, *args, **kwargs):
        stored = self._stored()
        if stored and stored["status"] != self.Status.DRAFT:
            raise InvoiceLocked(f"Invoice {stored['number']} is issued and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def tax_label(self) -> str:
        # "VAT 18%" (the tax's name and rate as the invoice's language writes them).
        return gettext("VAT %(rate)s%%") % {"rate": format_rate_percent(self.tax_rate)}

    @property
    def is_payable(self) -> bool:
        return self.status == self.Status.ISSUED

    def is_covered_by(self, collected: Decimal) -> bool:
        """Does `collected` (P - R: what customers paid and kept paid) pay the invoice in full?
        Nothing never covers anything, not even an invoice for nothing."""
        return collected > 0 and collected >= self.total

    def status_from_ledger(self, totals: LedgerTotals, *, review_open: bool) -> str:
        """The status the ledger gives this invoice (the module docstring's rule)."""
        if self.status in (self.Status.DRAFT, self.Status.VOID):
            return self.status
        if totals.refunds > 0 and totals.held <= 0:
            return self.Status.REFUNDED
        if self.is_covered_by(totals.collected):
            return self.Status.PAID
        return self.Status.NEEDS_REVIEW if review_open else self.Status.ISSUED

    def balance_due(self, totals: LedgerTotals, *, refunds_in_flight: Decimal) -> Decimal:
        """What a new payment must bring: the total less what WeTech holds (an accepted short
        payment leaves a balance), counting money on its way back to a customer as gone."""
        held = totals.held - refunds_in_flight
        return min(self.total, max(self.total - held, Decimal("0.00")))

    def _stored(self):
        if self.pk is None:
            return None
        return type(self).objects.filter(pk=self.pk).values("status", *self.FROZEN_FIELDS).first()


def _refuse_if_any_issued(invoice_ids) -> None:
    issued = (
        Invoice.objects.filter(pk__in=set(invoice_ids))
        .exclude(status=Invoice.Status.DRAFT)
        .values_list("number", flat=True)
    )
    numbers = list(issued)
    if numbers:
        raise InvoiceLocked(f"Lines of issued invoices cannot change: {', '.join(numbers)}.")


class InvoiceLineQuerySet(models.QuerySet):
    # Bulk paths skip save()/delete(), so they check the same rule.
    def update(self, **kwargs):
        _refuse_if_any_issued(self.values_list("invoice_id", flat=True))
        return super().update(**kwargs)

    def delete(self):
        _refuse_if_any_issued(self.values_list("invoice_id", flat=True))
        return super().delete()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=1)
    description = models.CharField(max_length=240)
    quantity = models.DecimalField(
        max_digits=10, decimal_places=2, default=1, validators=[MinValueValidator(0)]
    )
    unit_price = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, editable=False)

    objects = InvoiceLineQuerySet.as_manager()

    class Meta:
        ordering = ["invoice", "position", "pk"]

    def __str__(self):
        return self.description

    def save(self, *args, **kwargs):
        _refuse_if_any_issued([self.invoice_id])
        self.amount = quantize(self.quantity * self.unit_price)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_any_issued([self.invoice_id])
        return super().delete(*args, **kwargs)
