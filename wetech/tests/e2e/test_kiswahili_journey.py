"""The whole journey in Kiswahili, in a real browser whose language is Kiswahili: the front door
opens /sw/, a service, the lead form, the invoice, an AzamPay push that turns the page paid by
itself; the receipt email and its PDF are in Kiswahili; the switcher then shows the same invoice
in English while the documents stay in the customer's language."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from wetech.models import Invoice, Lead
from wetech.money import format_money
from wetech.tests.document_helpers import pdf_text
from wetech.tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def kiswahili_page(browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="sw-TZ")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_kiswahili_customer_orders_pays_and_gets_a_kiswahili_receipt(kiswahili_page, site):
    page = kiswahili_page
    page.goto(site + "/")
    page.wait_for_url(re.compile(r"/sw/$"))
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("heading", name="Huduma zetu")).to_be_visible()
    screenshot(page, "sw-01-home")

    page.locator("#services a[href^='/sw/services/']").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Agiza "))).to_be_visible()
    screenshot(page, "sw-02-service")
    page.get_by_label("Jina lako").fill("Asha Mwakyusa")
    page.get_by_label("Barua pepe").fill("asha@example.co.tz")
    page.get_by_label("Namba ya simu").fill("0712 345 678")
    page.get_by_role("button", name="Tuma na upate ankara yangu").click()

    page.wait_for_url(re.compile(r"/sw/invoices/[\w-]+/$"))
    expect(page.locator(".badge")).to_have_text("Haijalipwa")
    invoice = Invoice.objects.get(token=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert (Lead.objects.get().language, invoice.language) == ("sw", "sw")
    screenshot(page, "sw-03-invoice")

    page.locator("#pay-phone").fill("0754 321 987")
    page.locator("#pay-provider").select_option("Mpesa")
    page.get_by_role("button", name="Tuma ombi kwenye simu yangu").click()
    expect(page.get_by_text("Idhinisha malipo kwenye simu yako").first).to_be_visible()
    screenshot(page, "sw-04-waiting")
    # The page's own polling turns it to paid.
    expect(page.locator(".badge")).to_have_text("Imelipwa", timeout=30_000)
    expect(page.locator(".receipt")).to_contain_text("Kiasi kilichopokelewa")
    screenshot(page, "sw-05-paid")

    [receipt] = [
        message
        for message in mail.outbox
        if message.to == ["asha@example.co.tz"] and message.subject.startswith("Risiti")
    ]
    assert receipt.subject == f"Risiti: ankara {invoice.number} imelipwa, {_total(invoice)}"
    assert f"/sw/invoices/{invoice.token}/" in receipt.body
    [(_, pdf, _)] = receipt.attachments
    assert "ANKARA YA KODI" in pdf_text(pdf)
    assert "RISITI" in pdf_text(pdf)

    # The switcher: the same invoice in English; the documents keep the customer's language.
    page.get_by_role("button", name="English").click()
    page.wait_for_url(re.compile(rf"/invoices/{invoice.token}/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".badge")).to_have_text("Paid")
    screenshot(page, "sw-06-switched-to-english")
    pdf = page.request.get(f"{site}/invoices/{invoice.token}/pdf/").body()
    assert "ANKARA YA KODI" in pdf_text(pdf)
    # And the choice is remembered at the front door.
    page.goto(site + "/")
    assert page.url == f"{site}/"
    expect(page.locator("html")).to_have_attribute("lang", "en")


def _total(invoice: Invoice) -> str:
    return format_money(invoice.total, invoice.currency)
