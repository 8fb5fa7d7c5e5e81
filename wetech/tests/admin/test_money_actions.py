"""Finance's money actions through their confirmation pages, with the real refund and review
services (payments/refunds.py, payments/review.py): refund a payment, resolve a review case.

Skipped until those services are in the tree (they are written in parallel with this admin)."""

import json

import pytest
import responses
from responses import matchers

pytest.importorskip("wetech.payments.refunds")
pytest.importorskip("wetech.payments.review")

from wetech.models import AuditEntry, Refund, ReviewCase
from wetech.tests.backoffice_helpers import (
    PESAPAL_BASE,
    add_pesapal_token,
    before_the_token_expires,
    completed_attempt,
    pesapal_over_http,
    review_case,
    staff_in,
)
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(client):
    client.force_login(staff_in("Finance"))
    return client


def text(response) -> str:
    return response.content.decode()


def test_the_refund_page_shows_the_payment_before_anything_moves(finance):
    attempt = completed_attempt(issued_invoice())

    response = finance.get(f"/admin/wetech/paymentattempt/{attempt.pk}/refund/")

    html = text(response)
    assert response.status_code == 200
    assert f"Refund {attempt.merchant_reference}" in html
    assert "TZS 413,000 with Pesapal" in html
    assert "CONFC1" in html
    assert "The refund request goes to Pesapal now" in html
    assert 'name="reason"' in html
    # Pesapal names its own refunds: no reference to type.
    assert 'name="reference"' not in html
    assert not Refund.objects.exists()


def test_finance_refunds_a_pesapal_payment_through_its_api(finance, settings):
    pesapal_over_http(settings)
    with before_the_token_expires(), responses.RequestsMock() as http:
        attempt = completed_attempt(issued_invoice())
        add_pesapal_token(http)
        http.post(
            f"{PESAPAL_BASE}/api/Transactions/RefundRequest",
            body='{"status":"200","message":"Refund request successfully"}',
            content_type="application/json",
            match=[
                matchers.json_params_matcher(
                    {
                        "confirmation_code": "CONFC1",
                        "amount": "413000.00",
                        "username": "finance",
                        "remarks": "Customer cancelled the project",
                    }
                )
            ],
        )

        response = finance.post(
            f"/admin/wetech/paymentattempt/{attempt.pk}/refund/",
            {"reason": "Customer cancelled the project"},
            follow=True,
        )
        refund_call = http.calls[-1].request

    assert response.redirect_chain == [(f"/admin/wetech/paymentattempt/{attempt.pk}/change/", 302)]
    assert json.loads(refund_call.body)["confirmation_code"] == "CONFC1"
    refund = Refund.objects.get()
    assert (refund.attempt, refund.amount, refund.method, refund.status) == (
        attempt,
        attempt.amount,
        Refund.Method.GATEWAY,
        Refund.Status.REQUESTED,
    )
    assert refund.requested_by == "finance"
    assert f"Refund {refund.reference}" in text(response)
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REFUND_REQUESTED, actor="finance", attempt=attempt
    ).exists()


def test_an_azampay_refund_by_hand_needs_its_reference(finance):
    attempt = completed_attempt(issued_invoice(), gateway="azampay")
    url = f"/admin/wetech/paymentattempt/{attempt.pk}/refund/"

    page = finance.get(url)
    refused = finance.post(url, {"reason": "Paid twice"})
    recorded = finance.post(url, {"reason": "Paid twice", "reference": "MP240518.1234.X"})

    assert "AzamPay cannot refund by itself: send the money back by hand first" in text(page)
    assert refused.status_code == 200
    assert "Type the reference of the transfer you made" in text(refused)
    assert recorded.status_code == 302
    refund = Refund.objects.get()
    assert (refund.method, refund.external_reference) == (Refund.Method.MANUAL, "MP240518.1234.X")
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REFUND_RECORDED, actor="finance", reason="Paid twice"
    ).exists()


@pytest.mark.parametrize(
    ("decision", "action"),
    [
        (ReviewCase.Decision.ACCEPT, AuditEntry.Action.REVIEW_ACCEPTED),
        (ReviewCase.Decision.DISMISS, AuditEntry.Action.REVIEW_DISMISSED),
    ],
)
def test_finance_resolves_a_case_through_its_page(finance, decision, action):
    case = review_case(issued_invoice(), said_amount="400000.00")

    response = finance.post(
        f"/admin/wetech/reviewcase/{case.pk}/resolve/",
        {"decision": decision, "reason": "Confirmed with the customer by phone"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/admin/wetech/reviewcase/{case.pk}/change/", 302)]
    assert "Case resolved:" in text(response)
    case.refresh_from_db()
    assert (case.status, case.decision) == (ReviewCase.Status.RESOLVED, decision)
    assert case.resolution_reason == "Confirmed with the customer by phone"
    assert AuditEntry.objects.filter(action=action, actor="finance").exists()


def test_a_refund_decision_the_gateway_refuses_still_resolves_and_says_so(finance, settings):
    pesapal_over_http(settings)
    with before_the_token_expires(), responses.RequestsMock() as http:
        case = review_case(issued_invoice(), said_amount="400000.00")
        add_pesapal_token(http)
        http.post(
            f"{PESAPAL_BASE}/api/Transactions/RefundRequest",
            body='{"status":"500","message":"Refund amount exceeds the amount paid"}',
            content_type="application/json",
        )

        response = finance.post(
            f"/admin/wetech/reviewcase/{case.pk}/resolve/",
            {"decision": "refund", "reason": "Wrong amount: send it back"},
            follow=True,
        )

    assert response.redirect_chain == [(f"/admin/wetech/reviewcase/{case.pk}/change/", 302)]
    html = text(response)
    assert "Case resolved (refund the customer by finance), but the refund did not go" in html
    assert "Refund amount exceeds the amount paid" in html
    case.refresh_from_db()
    assert case.decision == ReviewCase.Decision.REFUND
    assert Refund.objects.get().status == Refund.Status.REJECTED
