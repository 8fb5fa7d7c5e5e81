"""The review queue and the audit trail in the admin (admin/backoffice.py): what Finance sees
and may do, what Sales may not; the trail is read-only everywhere."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wetech.models import AuditEntry, GatewayNotification, Invoice, ReviewCase
from wetech.payments.audit import audit_record
from wetech.tests.backoffice_helpers import completed_attempt, review_case, staff_in
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(client):
    client.force_login(staff_in("Sales"))
    return client


@pytest.fixture
def finance(client):
    client.force_login(staff_in("Finance"))
    return client


def text(response) -> str:
    return response.content.decode()


def result_rows(html: str) -> list[str]:
    """The rows of the change list's result table."""
    table = re.search(r'<table id="result_list">.*?<tbody>(.*?)</tbody>', html, re.S)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S) if table else []


def resolved(case, decision=ReviewCase.Decision.DISMISS):
    ReviewCase.objects.filter(pk=case.pk).update(
        status=ReviewCase.Status.RESOLVED,
        decision=decision,
        resolved_by="amina",
        resolution_reason="False alarm",
    )
    case.refresh_from_db()
    return case


# --- the queue --------------------------------------------------------------------------------


def test_the_queue_lists_open_cases_first_with_both_amounts_and_a_resolve_link(finance):
    old_resolved = resolved(review_case(issued_invoice(email="a@example.co.tz")))
    open_case = review_case(issued_invoice(email="b@example.co.tz"), said_amount="400000.00")

    response = finance.get("/admin/wetech/reviewcase/")

    html = text(response)
    assert response.status_code == 200
    rows = result_rows(html)
    assert len(rows) == 2
    assert open_case.attempt.merchant_reference in rows[0]
    assert old_resolved.attempt.merchant_reference in rows[1]
    assert "TZS 413,000" in rows[0]  # expected
    assert "TZS 400,000" in rows[0]  # what the gateway said
    assert f'href="/admin/wetech/reviewcase/{open_case.pk}/resolve/"' in rows[0]
    assert "/resolve/" not in rows[1]
    assert "Dismiss" in rows[1]


def test_the_queue_filters_by_status_and_kind(finance):
    open_case = review_case(issued_invoice(email="b@example.co.tz"))
    resolved(review_case(issued_invoice(email="a@example.co.tz")))

    html = text(finance.get("/admin/wetech/reviewcase/?status__exact=open&kind__exact=mismatch"))

    [row] = result_rows(html)
    assert open_case.attempt.merchant_reference in row


def test_the_case_page_shows_what_the_gateway_said_the_notifications_and_the_trail(finance):
    case = review_case(issued_invoice(), said_amount="400000.00")
    GatewayNotification.objects.create(
        gateway="pesapal",
        kind=GatewayNotification.Kind.IPN,
        method="GET",
        query_string="OrderTrackingId=track-review-1",
        attempt=case.attempt,
        result=GatewayNotification.Result.APPLIED,
    )
    audit_record(
        actor="system",
        action=AuditEntry.Action.REVIEW_OPENED,
        invoice=case.invoice,
        attempt=case.attempt,
        reason="amount 400000.00 instead of 413000.00",
    )

    response = finance.get(f"/admin/wetech/reviewcase/{case.pk}/change/")

    html = text(response)
    assert response.status_code == 200
    assert '<strong class="wt-diff">400000.00</strong>' in html
    assert "<td>413000.00</td>" in html
    assert "IPN" in html and "Applied" in html
    assert "Review case opened" in html
    assert "amount 400000.00 instead of 413000.00" in html
    assert f'href="/admin/wetech/reviewcase/{case.pk}/resolve/"' in html
    assert 'name="_save"' not in html


def test_sales_does_not_see_the_queue_nor_may_resolve(sales):
    case = review_case(issued_invoice())

    assert sales.get("/admin/wetech/reviewcase/").status_code == 403
    assert sales.get(f"/admin/wetech/reviewcase/{case.pk}/resolve/").status_code == 403
    posted = sales.post(
        f"/admin/wetech/reviewcase/{case.pk}/resolve/",
        {"decision": "dismiss", "reason": "not mine"},
    )
    assert posted.status_code == 403
    case.refresh_from_db()
    assert case.is_open


# --- the resolve page (without the review service: what the page itself decides) --------------


def decisions_offered(html: str) -> list[str]:
    return re.findall(r'name="decision" value="(\w+)"', html)


def test_money_in_the_invoice_currency_may_be_accepted_refunded_or_dismissed(finance):
    case = review_case(issued_invoice(), said_amount="400000.00")

    response = finance.get(f"/admin/wetech/reviewcase/{case.pk}/resolve/")

    html = text(response)
    assert response.status_code == 200
    assert decisions_offered(html) == ["accept", "refund", "dismiss"]
    assert "Accept: the money is credited to the invoice as what it really was" in html
    assert "TZS 400,000" in html
    assert 'name="reason"' in html


def test_money_in_another_currency_can_only_be_refunded(finance):
    case = review_case(issued_invoice(), said_amount="150.00", said_currency="USD")

    page = finance.get(f"/admin/wetech/reviewcase/{case.pk}/resolve/")
    accept = finance.post(
        f"/admin/wetech/reviewcase/{case.pk}/resolve/",
        {"decision": "accept", "reason": "looks fine"},
    )

    assert decisions_offered(text(page)) == ["refund"]
    assert "it cannot be credited to the invoice, so the only way out is to refund it" in text(page)
    assert accept.status_code == 200
    assert "Select a valid choice. accept is not one of the available choices." in text(accept)
    case.refresh_from_db()
    assert case.is_open


def test_a_chargeback_can_only_be_dismissed(finance):
    case = review_case(issued_invoice(), kind=ReviewCase.Kind.REVERSAL)

    html = text(finance.get(f"/admin/wetech/reviewcase/{case.pk}/resolve/"))

    assert decisions_offered(html) == ["dismiss"]
    assert "there is nothing to accept or refund" in html


def test_a_reason_is_required_to_resolve(finance):
    case = review_case(issued_invoice())

    response = finance.post(
        f"/admin/wetech/reviewcase/{case.pk}/resolve/", {"decision": "dismiss", "reason": ""}
    )

    assert response.status_code == 200
    assert "Say why: the reason is kept in the audit trail." in text(response)
    case.refresh_from_db()
    assert case.is_open


def test_a_resolved_case_says_so_and_offers_nothing(finance):
    case = resolved(review_case(issued_invoice()))

    html = text(finance.get(f"/admin/wetech/reviewcase/{case.pk}/resolve/"))

    assert "This case is already resolved (dismiss by amina)." in html
    assert 'name="decision"' not in html


# --- the audit trail ---------------------------------------------------------------------------


@pytest.fixture
def entries():
    invoice = issued_invoice()
    user = get_user_model().objects.create_user("amina", password="pw-123456789")
    voided = audit_record(
        actor="amina",
        user=user,
        action=AuditEntry.Action.INVOICE_VOIDED,
        invoice=invoice,
        reason="Ordered twice",
        data={"previous_status": "issued"},
    )
    resent = audit_record(
        actor="baraka", action=AuditEntry.Action.EMAIL_RESENT, invoice=invoice, reason="Lost it"
    )
    return invoice, voided, resent


def test_the_trail_is_listed_and_filtered_by_action_and_actor(finance, entries):
    everything = text(finance.get("/admin/wetech/auditentry/"))
    by_action = text(finance.get("/admin/wetech/auditentry/?action__exact=invoice_voided"))
    by_actor = text(finance.get("/admin/wetech/auditentry/?actor=baraka"))

    assert "Ordered twice" in everything and "Lost it" in everything
    assert "Ordered twice" in by_action and "Lost it" not in by_action
    assert "Lost it" in by_actor and "Ordered twice" not in by_actor


def test_nobody_adds_changes_or_deletes_an_entry(admin_client, entries):
    _, voided, _ = entries

    assert admin_client.get("/admin/wetech/auditentry/add/").status_code == 403
    page = admin_client.get(f"/admin/wetech/auditentry/{voided.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in text(page)
    assert "previous_status" in text(page)
    assert admin_client.post(f"/admin/wetech/auditentry/{voided.pk}/delete/").status_code == 403
    assert admin_client.post(
        "/admin/wetech/auditentry/",
        {"action": "delete_selected", "_selected_action": [voided.pk], "post": "yes"},
    ).status_code in (200, 302)
    assert AuditEntry.objects.count() == 2


def test_the_invoice_page_lists_its_trail_for_both_roles(client, entries):
    invoice, _, _ = entries
    for group in ("Sales", "Finance"):
        client.force_login(staff_in(group))
        html = text(client.get(f"/admin/wetech/invoice/{invoice.pk}/change/"))
        assert "Audit trail" in html
        assert "Ordered twice" in html and "Lost it" in html
        assert "Invoice voided" in html


def test_each_role_sees_its_own_part_of_the_back_office(client):
    client.force_login(staff_in("Sales"))
    sales_index = text(client.get("/admin/"))
    client.force_login(staff_in("Finance"))
    finance_index = text(client.get("/admin/"))

    for model in ("lead", "client", "invoice"):
        assert f'href="/admin/wetech/{model}/"' in sales_index
    for model in ("paymentattempt", "ledgerentry", "reviewcase", "refund", "creditnote"):
        assert f'href="/admin/wetech/{model}/"' not in sales_index
        assert f'href="/admin/wetech/{model}/"' in finance_index
    assert 'href="/admin/wetech/lead/"' not in finance_index
    assert Invoice.objects.count() == 0


def test_the_invoice_page_costs_the_same_queries_however_long_its_trail(admin_client):
    invoice = issued_invoice()
    attempt = completed_attempt(invoice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert (
                admin_client.get(f"/admin/wetech/invoice/{invoice.pk}/change/").status_code == 200
            )
        return len(captured)

    audit_record(
        actor="amina", action=AuditEntry.Action.EMAIL_RESENT, invoice=invoice, attempt=attempt
    )
    one = queries()
    for _ in range(5):
        audit_record(
            actor="amina", action=AuditEntry.Action.EMAIL_RESENT, invoice=invoice, attempt=attempt
        )
    assert queries() == one


@pytest.mark.parametrize(
    "url", ["/admin/wetech/reviewcase/", "/admin/wetech/auditentry/", "/admin/wetech/refund/"]
)
def test_the_lists_cost_the_same_queries_however_many_rows(admin_client, url):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    def add_case(n: int) -> None:
        case = review_case(issued_invoice(email=f"c{n}@example.co.tz"))
        audit_record(
            actor="system",
            action=AuditEntry.Action.REVIEW_OPENED,
            invoice=case.invoice,
            attempt=case.attempt,
        )

    add_case(0)
    one = queries()
    for n in range(1, 5):
        add_case(n)
    assert queries() == one
