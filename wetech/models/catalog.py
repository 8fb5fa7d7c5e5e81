"""The service catalogue shown on the home page and priced on invoices."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from wetech.money import DEFAULT_CURRENCY


class ServiceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Service(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    summary = models.CharField(max_length=240, help_text="One sentence for the service card.")
    description = models.TextField(blank=True)
    # Empty means "priced on request": the lead is captured but no invoice is issued.
    price = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Before VAT. Leave empty for services quoted case by case.",
    )
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    price_note = models.CharField(
        max_length=60, blank=True, help_text='Shown after the price, e.g. "per month".'
    )
    active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__isnull=True) | models.Q(price__gt=0),
                name="service_price_positive_or_empty",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("service_detail", args=[self.slug])

    @property
    def is_priced(self) -> bool:
        return self.price is not None and self.price > 0
