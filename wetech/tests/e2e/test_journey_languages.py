"""The whole customer journey in a phone-sized browser, in English and in Kiswahili (issue 14):
home, a service, the lead form, the invoice, an AzamPay payment, "Paid", then the receipt email
(delivered from the outbox) and the invoice PDF it carries.

Screenshots go to artifacts/screenshots/ as `en-*.png` and `sw-*.png` for people to look at, with
the receipt email drawn as a page and the PDF saved beside them. The Kiswahili case runs once the
site has /sw/ pages.
"""

import html
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from wetech.models import Invoice
from wetech.tests.document_helpers import pdf_text
from wetech.tests.e2e.accessibility import (
    LANGUAGE_OF_PREFIX,
    LANGUAGE_PREFIXES,
    language_prefix_available,
    phone_page,
)
from wetech.tests.e2e.conftest import SCREENSHOTS, screenshot
from wetech.tests.email_helpers import outbox_deliver

pytestmark = pytest.mark.e2e


@pytest.fixture(params=LANGUAGE_PREFIXES, ids=["en", "sw"])
def prefix(request, site):
    language_prefix_available(request.param)
    return request.param


@pytest.fixture
def page(browser, prefix):
    with phone_page(browser, prefix) as page:
        yield page


def receipt_email(invoice: Invoice):
    """The receipt the worker sends the customer, delivered here from the outbox."""
    for message in outbox_deliver():
        to_customer = message.to == [invoice.client_email] and invoice.number in message.subject
        if to_customer and any(name.endswith(".pdf") for name, _, _ in message.attachments):
            return message
    raise AssertionError(f"no receipt for {invoice.number} in the outbox")


def screenshot_email(page, message, name: str) -> None:
    attachments = ", ".join(name for name, _, _ in message.attachments)
    page.set_content(
        f"<meta name=viewport content='width=device-width'><body style='font-family:sans-serif;"
        f"margin:1rem'><p><b>To:</b> {html.escape(', '.join(message.to))}<br>"
        f"<b>Subject:</b> {html.escape(message.subject)}<br><b>Attached:</b> "
        f"{html.escape(attachments)}</p><pre style='white-space:pre-wrap;overflow-wrap:anywhere'>"
        f"{html.escape(message.body)}</pre>"
    )
    screenshot(page, name)


def save_pdf(pdf: bytes, name: str) -> None:
    """The PDF beside the screenshots, and its first page as a picture when poppler is here."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.pdf"
    path.write_bytes(pdf)
    if shutil.which("pdftoppm"):
        target = SCREENSHOTS / name
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(path), str(target)],
            check=True,
            timeout=60,
        )


def test_the_whole_journey_at_phone_width(page, site, prefix):
    lang = LANGUAGE_OF_PREFIX[prefix]

    page.goto(f"{site}{prefix}/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, f"{lang}-01-home")

    page.locator("#services a[href*='/services/']").first.click()
    form = page.locator("form.lead-form")
    expect(form).to_be_visible()
    assert page.url.startswith(f"{site}{prefix}/services/")
    screenshot(page, f"{lang}-02-service")

    form.locator("[name=name]").fill("Asha Mwakyusa")
    form.locator("[name=email]").fill("asha@example.co.tz")
    form.locator("[name=phone]").fill("0712 345 678")
    form.locator("[name=company]").fill("Mwakyusa Traders")
    screenshot(page, f"{lang}-03-lead-form")
    form.locator("[type=submit]").click()
    page.wait_for_url(re.compile(rf"{re.escape(site + prefix)}/invoices/[\w-]+/$"))
    expect(page.locator(".badge-issued")).to_be_visible()
    screenshot(page, f"{lang}-04-invoice")
    invoice = Invoice.objects.get(token=page.url.rstrip("/").rsplit("/", 1)[-1])

    page.locator("#pay-phone").fill("0754 321 987")
    page.locator("#pay-provider").select_option("Mpesa")
    page.locator("form[action$='/pay/azampay/'] [type=submit]").click()
    expect(page.locator(".payment-waiting")).to_be_visible()
    assert page.url.startswith(f"{site}{prefix}/invoices/{invoice.token}/")
    screenshot(page, f"{lang}-05-azampay-waiting")

    # No reload: the page's own polling turns it to paid when the simulated phone approves.
    expect(page.locator(".badge-paid")).to_be_visible(timeout=30_000)
    expect(page.locator(".receipt")).to_be_visible()
    screenshot(page, f"{lang}-06-paid")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID

    pdf_link = page.locator("a[href$='/pdf/']")
    pdf_response = page.request.get(site + pdf_link.get_attribute("href"))
    assert pdf_response.status == 200
    assert pdf_response.headers["content-type"] == "application/pdf"
    assert pdf_response.headers["x-robots-tag"] == "noindex"

    email = receipt_email(invoice)
    screenshot_email(page, email, f"{lang}-07-receipt-email")
    _, attached_pdf, mime = next(a for a in email.attachments if a[0].endswith(".pdf"))
    assert mime == "application/pdf"
    save_pdf(attached_pdf, f"{lang}-08-invoice-pdf")
    text = pdf_text(attached_pdf)
    assert invoice.number in text
    assert invoice.number in email.body
    # The link takes the customer back to the invoice in their language.
    assert f"{site}{prefix}/invoices/{invoice.token}/" in email.body

    if lang == "en":
        assert "we have received your payment" in email.body
        assert "Tax invoice" in text or "TAX INVOICE" in text
    else:
        # Written in Kiswahili for the customer, whatever language the staff read.
        assert "we have received your payment" not in email.body
        assert re.search(r"malipo|risiti", email.body, re.I)
        assert re.search(r"ankara", text, re.I)
        assert "Tax invoice" not in text and "TAX INVOICE" not in text
