"""What a visitor does, in a real browser: pick a service, leave details, pay, see "Paid"."""

import re

import pytest
from playwright.sync_api import expect

from wetech.models import Client, Invoice, Lead, LedgerEntry
from wetech.tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def open_first_service(page, site):
    page.goto(site + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "01-home")
    page.locator("#services a[href^='/services/']").first.click()
    expect(page.locator("form.lead-form")).to_be_visible()
    screenshot(page, "02-service")


def fill_lead_form(page, *, phone):
    page.get_by_label("Your name").fill("Asha Mwakyusa")
    page.get_by_label("Email").fill("asha@example.co.tz")
    page.get_by_label("Phone").fill(phone)
    page.get_by_label("Company").fill("Mwakyusa Traders")


def submit_lead_and_land_on_invoice(page, site) -> Invoice:
    open_first_service(page, site)
    fill_lead_form(page, phone="0712 345 678")
    page.get_by_role("button", name=re.compile("invoice", re.I)).click()
    page.wait_for_url(re.compile(r"/invoices/[\w-]+/$"))
    expect(page.locator(".badge")).to_contain_text(re.compile("issued|unpaid", re.I))
    screenshot(page, "03-invoice")
    token = page.url.rstrip("/").rsplit("/", 1)[-1]
    return Invoice.objects.get(token=token)


def test_a_bad_phone_number_is_shown_as_a_clear_error_and_nothing_is_saved(page, site):
    open_first_service(page, site)
    fill_lead_form(page, phone="12345")

    page.get_by_role("button", name=re.compile("invoice", re.I)).click()

    error = page.locator(".field-error .errorlist")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile("phone number", re.I))
    expect(page.get_by_label("Email")).to_have_value("asha@example.co.tz")
    screenshot(page, "04-bad-phone")
    assert Client.objects.count() == 0
    assert Lead.objects.count() == 0
    assert Invoice.objects.count() == 0


def test_pay_with_pesapal_through_the_hosted_page_and_see_paid(page, site):
    invoice = submit_lead_and_land_on_invoice(page, site)

    page.get_by_role("button", name=re.compile("Pesapal", re.I)).click()
    expect(page.get_by_text("Simulator", exact=False).first).to_be_visible()
    screenshot(page, "05-pesapal-hosted-page")
    page.get_by_role("button", name=re.compile(r"^Pay ", re.I)).click()

    page.wait_for_url(re.compile(rf"/invoices/{invoice.token}/"))
    expect(page.locator(".badge")).to_contain_text("Paid", timeout=20_000)
    expect(page.locator(".receipt")).to_be_visible()
    screenshot(page, "06-paid-with-pesapal")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert LedgerEntry.objects.filter(invoice=invoice, kind="payment").count() == 1


def test_pay_with_azampay_and_watch_the_page_turn_paid_by_itself(page, site):
    invoice = submit_lead_and_land_on_invoice(page, site)

    page.locator("#pay-phone").fill("0754 321 987")
    page.locator("#pay-provider").select_option("Mpesa")
    page.get_by_role("button", name=re.compile("request to my phone", re.I)).click()

    page.wait_for_url(re.compile(rf"/invoices/{invoice.token}/"))
    expect(page.get_by_text(re.compile("approve", re.I)).first).to_be_visible()
    screenshot(page, "07-azampay-waiting")
    # No reload from the test: the page's own polling turns it to "Paid".
    expect(page.locator(".badge")).to_contain_text("Paid", timeout=30_000)
    screenshot(page, "08-paid-with-azampay")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert LedgerEntry.objects.filter(invoice=invoice, kind="payment").count() == 1
