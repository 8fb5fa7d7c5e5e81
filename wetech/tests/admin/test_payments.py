"""The payment back office: read-only money records, re-check and re-process actions."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from wetech.models import GatewayNotification, Invoice, PaymentAttempt
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.inbox import notification_record
from wetech.payments.start import payment_start
from wetech.tests.backoffice_helpers import completed_attempt, staff_in
from wetech.tests.payment_helpers import configure_gateways, install_fakes, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def pesapal(settings, monkeypatch):
    configure_gateways(settings)
    return install_fakes(monkeypatch)[0]


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@wetech.co.tz", "pw-123456789")
    client.force_login(user)
    return client


@pytest.fixture
def attempt(pesapal):
    return payment_start(invoice=issued_invoice(), gateway="pesapal").attempt


def test_attempts_are_read_only_but_listed_and_filterable(staff, attempt):
    listing = staff.get("/admin/wetech/paymentattempt/?status__exact=pending")
    assert listing.status_code == 200
    assert attempt.merchant_reference in listing.content.decode()
    assert staff.get("/admin/wetech/paymentattempt/add/").status_code == 403
    assert staff.get("/admin/wetech/ledgerentry/add/").status_code == 403
    change = staff.get(f"/admin/wetech/paymentattempt/{attempt.pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()


def test_invoice_page_in_admin_shows_its_payments(staff, attempt):
    html = staff.get(f"/admin/wetech/invoice/{attempt.invoice_id}/change/").content.decode()
    assert attempt.merchant_reference in html
    assert "Ledger entries" in html


def test_recheck_action_settles_with_the_gateway(staff, pesapal, attempt):
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    response = staff.post(
        "/admin/wetech/paymentattempt/",
        {"action": "recheck_now", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert f"{attempt.merchant_reference}: now completed" in response.content.decode()
    assert Invoice.objects.get().status == Invoice.Status.PAID


def test_reprocess_action_replays_a_stored_notification(staff, pesapal, attempt):
    request = RequestFactory().get(
        "/payments/pesapal/ipn/", {"OrderTrackingId": attempt.gateway_reference}
    )
    notification = notification_record(gateway="pesapal", kind="ipn", request=request)
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    response = staff.post(
        "/admin/wetech/gatewaynotification/",
        {"action": "reprocess", "_selected_action": [notification.pk]},
        follow=True,
    )
    assert f"#{notification.pk}: applied" in response.content.decode()
    notification.refresh_from_db()
    assert notification.result == GatewayNotification.Result.APPLIED
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.COMPLETED


def test_sales_may_not_refund_and_does_not_see_payments(client):
    attempt = completed_attempt(issued_invoice())
    client.force_login(staff_in("Sales"))

    assert client.get(f"/admin/wetech/paymentattempt/{attempt.pk}/refund/").status_code == 403
    posted = client.post(
        f"/admin/wetech/paymentattempt/{attempt.pk}/refund/", {"reason": "customer asked"}
    )
    assert posted.status_code == 403
    assert client.get(f"/admin/wetech/paymentattempt/{attempt.pk}/change/").status_code == 403
    assert not attempt.refunds.exists()


def test_a_completed_payment_offers_refund_and_receipt_to_a_superuser(staff):
    attempt = completed_attempt(issued_invoice())

    html = staff.get(f"/admin/wetech/paymentattempt/{attempt.pk}/change/").content.decode()

    assert f'href="/admin/wetech/paymentattempt/{attempt.pk}/refund/"' in html
    assert (
        f'href="/admin/wetech/invoice/{attempt.invoice_id}/resend/?email=receipt-{attempt.pk}"'
        in html
    )
