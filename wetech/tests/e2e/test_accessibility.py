"""axe-core on every customer page, at phone width, in English and in Kiswahili (issue 14).

Each test walks real pages of the live site (the gateway simulators take the payments) and fails
on any WCAG 2.1 A/AA violation, listing them all. The Kiswahili case runs once /sw/ exists.
"""

import re

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from playwright.sync_api import expect

from wetech.models import Invoice
from wetech.sales.selectors import service_list_offered
from wetech.tests.e2e.accessibility import (
    LANGUAGE_PREFIXES,
    AxeChecks,
    language_prefix_available,
    phone_page,
)

pytestmark = pytest.mark.e2e

ROBOTS_NOINDEX = "meta[name=robots][content*=noindex]"


@pytest.fixture(params=LANGUAGE_PREFIXES, ids=["en", "sw"])
def prefix(request, site):
    language_prefix_available(request.param)
    return request.param


@pytest.fixture
def page(browser, prefix):
    with phone_page(browser, prefix) as page:
        yield page


def fill_lead_form(page, *, phone: str, email: str = "asha@example.co.tz") -> None:
    form = page.locator("form.lead-form")
    form.locator("[name=name]").fill("Asha Mwakyusa")
    form.locator("[name=email]").fill(email)
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=company]").fill("Mwakyusa Traders")
    message = form.locator("textarea[name=message]")
    if message.count():
        message.fill("A website for our shop, please.")


def send_lead_form(page) -> None:
    page.locator("form.lead-form [type=submit]").click()
    page.wait_for_load_state("load")


def order_first_service(page, site, prefix) -> Invoice:
    service = service_list_offered().filter(price__isnull=False).first()
    page.goto(f"{site}{prefix}{service.get_absolute_url()}")
    fill_lead_form(page, phone="0712 345 678")
    send_lead_form(page)
    page.wait_for_url(re.compile(r"/invoices/[\w-]+/$"))
    return Invoice.objects.get(token=page.url.rstrip("/").rsplit("/", 1)[-1])


def pay_with_azampay(page, phone: str) -> None:
    page.locator("#pay-phone").fill(phone)
    page.locator("#pay-provider").select_option("Mpesa")
    page.locator("form[action$='/pay/azampay/'] [type=submit]").click()
    page.wait_for_load_state("load")


def assert_private(page, response) -> None:
    """Invoices are private: the page keeps itself out of search engines, and no cache keeps it."""
    expect(page.locator(ROBOTS_NOINDEX)).to_have_count(1)
    assert "private" in response.headers["cache-control"]


def test_company_pages_and_the_lead_form(page, site, prefix):
    axe = AxeChecks(page, prefix)
    page.goto(f"{site}{prefix}/")
    axe.check("home")
    services = list(service_list_offered())
    assert services, "seed_demo offers services"
    for service in services:
        page.goto(f"{site}{prefix}{service.get_absolute_url()}")
        axe.check(f"service {service.slug}")
    page.goto(f"{site}{prefix}{reverse('contact')}")
    axe.check("contact")

    fill_lead_form(page, phone="12345")
    send_lead_form(page)
    expect(page.locator("#id_phone_error")).to_be_visible()
    axe.check("contact form with an error")
    page.locator("form.lead-form [name=phone]").fill("0712 345 678")
    send_lead_form(page)
    page.wait_for_url(re.compile(r"/leads/thanks/$"))
    axe.check("thanks")
    axe.assert_clean()


def test_invoice_pages_through_every_payment_state(page, site, prefix):
    axe = AxeChecks(page, prefix)
    invoice = order_first_service(page, site, prefix)
    response = page.reload()
    assert_private(page, response)
    axe.check("issued invoice")

    pay_with_azampay(page, "12345")
    expect(page.locator("#pay-phone-errors")).to_be_visible()
    axe.check("invoice with a pay-form error")

    # The simulated phone declines numbers ending 000.
    pay_with_azampay(page, "0754 321 000")
    expect(page.locator(".payment-failed")).to_be_visible(timeout=20_000)
    axe.check("invoice after a failed payment")

    pay_with_azampay(page, "0754 321 987")
    expect(page.locator(".badge-paid")).to_be_visible(timeout=30_000)
    response = page.reload()
    assert_private(page, response)
    expect(page.locator(".receipt")).to_be_visible()
    axe.check("paid invoice with its receipt")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    axe.assert_clean()


def test_an_invoice_waiting_for_azampay_approval(page, site, prefix):
    axe = AxeChecks(page, prefix)
    order_first_service(page, site, prefix)
    # The simulated phone never answers numbers ending 999: the page keeps waiting.
    pay_with_azampay(page, "0754 321 999")
    expect(page.locator(".payment-waiting")).to_be_visible()
    response = page.reload()
    assert_private(page, response)
    expect(page.locator(".payment-waiting")).to_be_visible()
    axe.check("invoice waiting for AzamPay approval")
    axe.assert_clean()


def test_payment_return_and_error_pages(page, site, prefix, settings):
    settings.ROOT_URLCONF = "wetech.tests.e2e.urls_errors"
    settings.LEADS_RATE_LIMIT = "1/m"
    axe = AxeChecks(page, prefix)

    # Pesapal's return address is never prefixed (the contract): a Kiswahili visitor comes back
    # with the language cookie their choice left and a browser that prefers Kiswahili, and the
    # problem page must speak their language.
    if prefix:
        page.context.add_cookies(
            [{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": "sw", "url": site}]
        )
    response = page.goto(f"{site}/payments/pesapal/callback/")
    assert response.status == 400
    expect(page.locator(ROBOTS_NOINDEX)).to_have_count(1)
    axe.check("payment return problem (incomplete link)")
    response = page.goto(
        f"{site}/payments/pesapal/callback/"
        "?OrderTrackingId=unknown-tracking-id&OrderMerchantReference=unknown-ref"
        "&OrderNotificationType=CALLBACKURL"
    )
    assert response.status == 404
    axe.check("payment return problem (unknown payment)")
    page.context.clear_cookies()

    response = page.goto(f"{site}{prefix}/no-such-page/")
    assert response.status == 404
    axe.check("404")
    response = page.goto(f"{site}{prefix}/invoices/{'x' * 43}/")
    assert response.status == 404
    axe.check("404 for an unknown invoice")
    for status in (400, 500, 503):
        response = page.goto(f"{site}{prefix}/test-errors/{status}/")
        assert response.status == status
        axe.check(str(status))

    # A form whose CSRF cookie has gone (an expired session, another site): 403.
    page.goto(f"{site}{prefix}{reverse('contact')}")
    page.context.clear_cookies()
    fill_lead_form(page, phone="0712 345 678")
    send_lead_form(page)
    expect(page.locator(".error-code")).to_have_text("403")
    axe.check("403 (form expired)")

    # Too many leads in a minute: 429.
    for email in ("first@example.co.tz", "second@example.co.tz"):
        page.goto(f"{site}{prefix}{reverse('contact')}")
        fill_lead_form(page, phone="0712 345 678", email=email)
        send_lead_form(page)
    expect(page.locator(".error-code")).to_have_text("429")
    axe.check("429")
    axe.assert_clean()
