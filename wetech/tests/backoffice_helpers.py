"""Builders for the back-office tests: staff users in the Sales and Finance groups, attempts and
review cases in a given state, and the real Pesapal client pointed at `responses`."""

import importlib
from datetime import UTC, datetime
from pathlib import Path

import time_machine
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from wetech.models import LedgerEntry, PaymentAttempt, ReviewCase

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PESAPAL_BASE = "https://cybqa.pesapal.com/pesapalv3"
PASSWORD = "pw-correct-horse-9"


def roles_ensure() -> None:
    """The Sales and Finance groups as migration 0006 makes them (a transactional test's flush
    empties the groups table; the permissions come back with post_migrate)."""
    migration = importlib.import_module("wetech.migrations.0009_staff_roles")
    migration.roles_create(django_apps, None)


def staff_in(group: str, username: str | None = None):
    """An active staff user who is in `group` and nothing else."""
    if not Group.objects.filter(name=group).exists():
        roles_ensure()
    user = get_user_model().objects.create_user(
        username or group.lower(), f"{group.lower()}@wetech.co.tz", PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


def completed_attempt(invoice, *, gateway="pesapal", suffix="C1", amount=None) -> PaymentAttempt:
    """A completed payment credited in the ledger, as settlement leaves it."""
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway=gateway,
        merchant_reference=f"{invoice.number}-{suffix}",
        gateway_reference=f"track-{suffix.lower()}",
        amount=amount if amount is not None else invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.COMPLETED,
        confirmation_code=f"CONF{suffix}",
        payment_method="MpesaTZ",
        completed_at=datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
    )
    LedgerEntry.objects.create(
        invoice=invoice,
        attempt=attempt,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=attempt.amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        gateway_reference=attempt.gateway_reference,
        confirmation_code=attempt.confirmation_code,
    )
    return attempt


def review_case(
    invoice, *, said_amount="400000.00", said_currency="TZS", kind=ReviewCase.Kind.MISMATCH
) -> ReviewCase:
    """An open case for a payment the gateway reported with a different amount or currency."""
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-R{ReviewCase.objects.count() + 1}",
        gateway_reference=f"track-review-{ReviewCase.objects.count() + 1}",
        amount=invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.NEEDS_REVIEW,
        status_detail=f"Gateway reports completed, but amount {said_amount} instead of "
        f"{invoice.total}",
    )
    return ReviewCase.objects.create(
        invoice=invoice,
        attempt=attempt,
        kind=kind,
        summary=f"Paid {said_amount} {said_currency} for {invoice.total} {invoice.currency}",
        gateway_said={
            "status": "completed",
            "amount": said_amount,
            "currency": said_currency,
            "confirmation_code": "PSPMISMATCH",
        },
        expected={"amount": str(invoice.total), "currency": invoice.currency},
    )


def pesapal_over_http(settings) -> None:
    """The real Pesapal client, configured for a base URL that `responses` answers."""
    settings.GATEWAY_SIMULATOR = False
    settings.PESAPAL_BASE_URL = PESAPAL_BASE
    settings.PESAPAL_CONSUMER_KEY = "test-consumer-key"
    settings.PESAPAL_CONSUMER_SECRET = "test-consumer-secret"
    settings.PESAPAL_IPN_ID = "ipn-0000-test"


def before_the_token_expires():
    """The recorded Pesapal token expires 2024-03-18T08:23:21Z."""
    return time_machine.travel(datetime(2024, 3, 18, 7, 30, tzinfo=UTC), tick=False)


def add_pesapal_token(http):
    return http.post(
        f"{PESAPAL_BASE}/api/Auth/RequestToken",
        body=(FIXTURES / "pesapal/request_token.json").read_text(),
        content_type="application/json",
    )


def add_pesapal_cancel(http, tracking_id: str, *, body='{"status":"200","message":"ok"}'):
    from responses import matchers

    return http.post(
        f"{PESAPAL_BASE}/api/Transactions/CancelOrder",
        body=body,
        content_type="application/json",
        match=[matchers.json_params_matcher({"order_tracking_id": tracking_id})],
    )
