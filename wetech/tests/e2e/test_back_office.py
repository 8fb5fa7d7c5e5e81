"""A Finance user in a real browser: signs in, opens the review queue, accepts a short payment,
then refunds a customer's Pesapal payment through its confirmation page and sees the refund
complete when (the simulated) Pesapal reports the payment reversed.

Needs the refund and review services (payments/refunds.py, payments/review.py)."""

import re
import time

import pytest
from playwright.sync_api import expect

from sandbox.testing import pesapal_refund_approve

pytest.importorskip("wetech.payments.refunds")
pytest.importorskip("wetech.payments.review")

from wetech.models import AuditEntry, Invoice, LedgerEntry, Refund, ReviewCase
from wetech.money import format_money
from wetech.tests.backoffice_helpers import PASSWORD, review_case, staff_in
from wetech.tests.e2e.conftest import screenshot
from wetech.tests.e2e.test_visitor_journeys import submit_lead_and_land_on_invoice
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}


def pay_with_pesapal(page, site) -> Invoice:
    invoice = submit_lead_and_land_on_invoice(page, site)
    page.get_by_role("button", name=re.compile("Pesapal", re.I)).click()
    page.get_by_role("button", name=re.compile(r"^Pay ", re.I)).click()
    page.wait_for_url(re.compile(rf"/invoices/{invoice.token}/"))
    expect(page.locator(".badge")).to_contain_text("Paid", timeout=20_000)
    invoice.refresh_from_db()
    return invoice


def sign_in(browser, site, username: str, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(site + "/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(page.get_by_text(re.compile("Welcome", re.I)).first).to_be_visible()
    return context, page


def wait_for(check, *, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


def test_finance_resolves_a_review_case_and_refunds_a_payment(browser, page, site, settings):
    # The simulator reports the reversal seconds after it reported the payment; Pesapal takes
    # days, far outside the window in which a repeated notification is not asked about again.
    settings.GATEWAY_STATUS_COALESCE_SECONDS = 0
    paid = pay_with_pesapal(page, site)
    attempt = paid.payment_attempts.get(status="completed")
    short = review_case(issued_invoice(email="baraka@example.co.tz"), said_amount="400000.00")
    staff_in("Finance", "amina")

    context, admin = sign_in(browser, site, "amina")

    # The review queue, from the admin's own navigation.
    admin.get_by_role("link", name="Review cases", exact=True).first.click()
    expect(admin.get_by_role("heading", name=re.compile("review case", re.I))).to_be_visible()
    expect(admin.locator("#result_list")).to_contain_text(short.attempt.merchant_reference)
    screenshot(admin, "backoffice-01-review-queue")

    admin.get_by_role("link", name="Resolve…").click()
    expect(admin.get_by_role("heading", name="What will happen")).to_be_visible()
    screenshot(admin, "backoffice-02-resolve-page")
    admin.get_by_role("radio", name=re.compile("Accept the money")).check()
    admin.get_by_label(re.compile("^Reason")).fill(
        "The customer paid 400,000 by mistake; balance due"
    )
    admin.get_by_role("button", name="Resolve the case").click()
    expect(admin.locator(".messagelist")).to_contain_text("Case resolved")
    screenshot(admin, "backoffice-03-case-resolved")

    short.refresh_from_db()
    assert (short.status, short.decision) == (ReviewCase.Status.RESOLVED, "accept")
    assert LedgerEntry.objects.get(attempt=short.attempt, kind="payment").amount == 400000
    assert AuditEntry.objects.filter(action="review_accepted", actor="amina").exists()

    # The paid invoice's payment, refunded through its confirmation page.
    admin.goto(f"{site}/admin/wetech/invoice/{paid.pk}/change/")
    admin.get_by_role("link", name=f"Refund {attempt.merchant_reference}…").click()
    expect(
        admin.get_by_role("heading", name=f"Refund {attempt.merchant_reference}")
    ).to_be_visible()
    screenshot(admin, "backoffice-04-refund-page")
    admin.get_by_label(re.compile("^Reason")).fill("Customer cancelled the project")
    admin.get_by_role("button", name="Refund the customer").click()
    expect(admin.locator(".messagelist")).to_contain_text(
        re.compile(rf"Refund \S+ of {re.escape(format_money(attempt.amount, 'TZS'))}")
    )

    # The merchant approves the queued refund in Pesapal's portal (the simulator's control);
    # Pesapal then reports the payment reversed and the refund completes exactly once.
    assert Refund.objects.get().status == "requested"
    attempt.refresh_from_db()
    pesapal_refund_approve(attempt.confirmation_code)
    assert wait_for(lambda: Refund.objects.filter(status="completed").exists())
    paid.refresh_from_db()
    assert paid.status == Invoice.Status.REFUNDED
    assert LedgerEntry.objects.filter(invoice=paid, kind="refund").count() == 1
    assert AuditEntry.objects.filter(action="refund_requested", actor="amina").exists()
    admin.goto(f"{site}/admin/wetech/invoice/{paid.pk}/change/")
    expect(admin.get_by_text("Customer cancelled the project").first).to_be_visible()
    screenshot(admin, "backoffice-05-invoice-refunded")
    context.close()

    # The same pages on a phone.
    phone_context, phone = sign_in(browser, site, "amina", viewport={"width": 390, "height": 844})
    phone.goto(f"{site}/admin/wetech/reviewcase/{short.pk}/change/")
    screenshot(phone, "backoffice-06-case-phone")
    phone.goto(f"{site}/admin/wetech/reviewcase/")
    screenshot(phone, "backoffice-07-queue-phone")
    phone_context.close()
