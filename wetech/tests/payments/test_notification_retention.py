"""The gateway inbox: what one notification may store, and pruning old handled junk."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from wetech.models import GatewayNotification, PaymentAttempt
from wetech.models.payments import new_merchant_reference
from wetech.payments import notification_retention
from wetech.payments.notification_retention import notifications_prune
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

pytestmark = pytest.mark.django_db

Result = GatewayNotification.Result
MARK = "…[truncated]"


@pytest.fixture
def gateways(settings):
    configure_gateways(settings)


# --- what one notification may store ---------------------------------------------------------


def test_junk_headers_are_cut_to_a_sane_length(client, gateways):
    user_agent = "Mozilla/5.0 " + "A" * 8000
    forwarded = ", ".join(f"10.0.{n // 250}.{n % 250}" for n in range(900)) + ", 203.0.113.7"

    client.get(
        "/payments/pesapal/ipn/",
        {"OrderTrackingId": "junk"},
        headers={"User-Agent": user_agent, "X-Forwarded-For": forwarded},
    )

    headers = GatewayNotification.objects.get().headers
    assert len(headers["User-Agent"]) == 256
    assert headers["User-Agent"] == user_agent[: 256 - len(MARK)] + MARK
    # The end of X-Forwarded-For is what our own proxies wrote: it is the part kept.
    assert len(headers["X-Forwarded-For"]) == 256
    assert headers["X-Forwarded-For"].startswith(MARK)
    assert headers["X-Forwarded-For"].endswith(", 203.0.113.7")


def test_a_short_header_is_stored_whole(client, gateways):
    client.get("/payments/pesapal/ipn/", {"OrderTrackingId": "x"}, headers={"User-Agent": "ok/1"})

    assert GatewayNotification.objects.get().headers["User-Agent"] == "ok/1"


def test_a_huge_body_is_capped_with_a_marker(client, gateways):
    body = json.dumps({"OrderTrackingId": "x", "pad": "b" * 30_000})

    response = client.post("/payments/pesapal/ipn/", body, content_type="application/json")

    assert response.status_code == 400
    notification = GatewayNotification.objects.get()
    assert len(notification.body) == GatewayNotification.MAX_BODY_CHARS == 8000
    assert notification.body.endswith(MARK)
    assert notification.result == Result.REJECTED


def test_a_huge_query_string_is_capped_with_a_marker(client, gateways):
    client.get("/payments/pesapal/ipn/", {"OrderTrackingId": "x", "pad": "q" * 10_000})

    stored = GatewayNotification.objects.get().query_string
    assert len(stored) == 2000
    assert stored.startswith("OrderTrackingId=x&pad=qqq")
    assert stored.endswith(MARK)


def test_an_honest_ipn_is_stored_exactly(client, gateways):
    params = {
        "OrderTrackingId": str(uuid.uuid4()),
        "OrderMerchantReference": "WT-2026-00001-1A2B3C4D",
        "OrderNotificationType": "IPNCHANGE",
    }

    client.get("/payments/pesapal/ipn/", params)

    stored = GatewayNotification.objects.get()
    assert MARK not in stored.query_string
    assert stored.query_string == "&".join(f"{key}={value}" for key, value in params.items())


# --- pruning ---------------------------------------------------------------------------------


def _attempt() -> PaymentAttempt:
    invoice = issued_invoice()
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=new_merchant_reference(invoice.number),
        gateway_reference=str(uuid.uuid4()),
        amount=invoice.total,
        currency=invoice.currency,
    )


def _notification(result, *, days_old, attempt=None) -> GatewayNotification:
    notification = GatewayNotification.objects.create(
        gateway="pesapal", kind="ipn", method="GET", result=result, attempt=attempt
    )
    GatewayNotification.objects.filter(pk=notification.pk).update(
        received_at=timezone.now() - timedelta(days=days_old)
    )
    return notification


def test_prune_deletes_only_old_handled_notifications_of_no_payment():
    attempt = _attempt()
    doomed = [
        _notification(Result.IGNORED, days_old=91),
        _notification(Result.IGNORED, days_old=400),
        _notification(Result.REJECTED, days_old=91),
        _notification(Result.DUPLICATE, days_old=91),
        _notification(Result.APPLIED, days_old=91),
    ]
    kept = [
        _notification(Result.RECEIVED, days_old=400),  # never processed
        _notification(Result.ERROR, days_old=400),  # to retry or look at
        _notification(Result.APPLIED, days_old=400, attempt=attempt),  # a payment's record
        _notification(Result.IGNORED, days_old=400, attempt=attempt),
        _notification(Result.REJECTED, days_old=89),  # not old enough
    ]

    report = notifications_prune(older_than_days=90)

    assert report.deleted == {"applied": 1, "duplicate": 1, "ignored": 2, "rejected": 1}
    assert report.total == 5
    remaining = set(GatewayNotification.objects.values_list("pk", flat=True))
    assert remaining == {n.pk for n in kept}
    assert not remaining & {n.pk for n in doomed}
    assert PaymentAttempt.objects.filter(pk=attempt.pk).exists()


def test_prune_defaults_to_90_days():
    _notification(Result.IGNORED, days_old=91)
    _notification(Result.IGNORED, days_old=30)

    assert notifications_prune().total == 1
    assert GatewayNotification.objects.count() == 1


def test_prune_works_in_batches(monkeypatch):
    monkeypatch.setattr(notification_retention, "BATCH_SIZE", 2)
    for _ in range(5):
        _notification(Result.REJECTED, days_old=100)

    assert notifications_prune(older_than_days=90).deleted["rejected"] == 5
    assert GatewayNotification.objects.count() == 0


def test_prune_refuses_a_negative_age():
    with pytest.raises(ValueError):
        notifications_prune(older_than_days=-1)
