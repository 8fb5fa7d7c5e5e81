"""A small, consistent set of invoices and payments for the integrity audit's tests to spoil.

Faults are planted with queryset `update()` or raw SQL, around the models' own guards; the
database's CHECK constraints are switched off by `checks_off` for the faults they would refuse.
"""

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from wetech.models import (
    GatewayNotification,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PaymentAttempt,
)
from wetech.models.payments import new_merchant_reference
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.settlement import PaymentFinding, attempt_settle
from wetech.tests.payment_helpers import issued_invoice


@dataclass
class World:
    year: int
    paid: Invoice
    paid_attempt: PaymentAttempt
    payment: LedgerEntry
    unpaid: Invoice
    open_attempt: PaymentAttempt
    draft: Invoice
    notification: GatewayNotification

    def refresh(self):
        for obj in (self.paid, self.paid_attempt, self.payment, self.unpaid, self.open_attempt):
            obj.refresh_from_db()


def open_attempt(invoice: Invoice, *, gateway="pesapal") -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway=gateway,
        merchant_reference=new_merchant_reference(invoice.number or "DRAFT"),
        gateway_reference=uuid.uuid4().hex,
        amount=invoice.total or Decimal("1000"),
        currency=invoice.currency,
        status=PaymentAttempt.Status.PENDING,
        expires_at=timezone.now() + timedelta(minutes=60),
    )


def settle_completed(attempt: PaymentAttempt) -> None:
    finding = PaymentFinding(
        status=PaymentStatus.COMPLETED,
        amount=attempt.amount,
        currency=attempt.currency,
        merchant_reference=attempt.merchant_reference,
        gateway_reference=attempt.gateway_reference,
        confirmation_code="PSP123ABC",
    )
    attempt_settle(attempt_id=attempt.pk, finding=finding, source="test")


def build_world() -> World:
    """WT-<year>-00001 paid through Pesapal, WT-<year>-00002 issued with a pending attempt, a
    draft, and a processed notification: everything the audit should call clean."""
    paid = issued_invoice()
    paid_attempt = open_attempt(paid)
    settle_completed(paid_attempt)
    unpaid = issued_invoice(unit_price=Decimal("120000.50"))
    attempt = open_attempt(unpaid, gateway="azampay")
    draft = Invoice.objects.create(
        client=paid.client,
        client_name="Asha Mwinyi",
        client_email="asha@example.co.tz",
        client_phone="+255712345678",
    )
    InvoiceLine.objects.create(invoice=draft, description="Hosting", unit_price=Decimal("90000"))
    notification = GatewayNotification.objects.create(
        gateway="pesapal",
        kind=GatewayNotification.Kind.IPN,
        method="GET",
        attempt=paid_attempt,
        result=GatewayNotification.Result.APPLIED,
        processed_at=timezone.now(),
    )
    world = World(
        year=timezone.localtime().year,
        paid=paid,
        paid_attempt=paid_attempt,
        payment=LedgerEntry.objects.get(attempt=paid_attempt),
        unpaid=unpaid,
        open_attempt=attempt,
        draft=draft,
        notification=notification,
    )
    world.refresh()
    return world


def number(year: int, sequence: int) -> str:
    return f"WT-{year}-{sequence:05d}"


CHECKS = {
    "wetech_invoice": ["invoice_total_is_subtotal_plus_tax", "invoice_amounts_not_negative"],
    "wetech_paymentattempt": ["payment_attempt_amount_positive"],
    "wetech_ledgerentry": ["ledger_entry_amount_positive"],
}


@contextmanager
def checks_off():
    """Let the test write rows the CHECK constraints refuse (undone with the test's transaction
    on PostgreSQL; SQLite only skips checking while on)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                yield
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
            return
        with immediate_constraints(cursor):
            for table, names in CHECKS.items():
                for name in names:
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        yield


@contextmanager
def immediate_constraints(cursor):
    """PostgreSQL refuses ALTER TABLE while deferred foreign-key checks are pending."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    try:
        yield
    finally:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def drop_invoice_number_unique():
    """PostgreSQL only: a restored dump without its constraints is how duplicates get in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'wetech_invoice'::regclass AND contype = 'u' "
            "AND conkey = ARRAY[(SELECT attnum FROM pg_attribute "
            "WHERE attrelid = 'wetech_invoice'::regclass AND attname = 'number')]::smallint[]"
        )
        (name,) = cursor.fetchone()
        with immediate_constraints(cursor):
            cursor.execute(f'ALTER TABLE wetech_invoice DROP CONSTRAINT "{name}"')
