import re
from decimal import Decimal

import pytest

from wetech.tests.lead_helpers import hidden_fields, make_service

pytestmark = pytest.mark.django_db


def test_home_lists_active_services_with_prices(client):
    make_service(name="Business website", slug="business-website", price=Decimal("1500000"))
    make_service(name="Mobile app", slug="mobile-app", price=None)
    make_service(name="Retired", slug="retired", active=False)
    html = client.get("/").content.decode()
    assert "TZS 1,500,000" in html
    assert "+ VAT" in html
    assert 'href="/services/business-website/"' in html
    assert "Priced on request" in html
    assert "Retired" not in html


def test_service_page_has_the_lead_form_with_its_hidden_fields(client):
    make_service()
    response = client.get(
        "/services/business-website/?utm_source=google&utm_medium=cpc",
        HTTP_REFERER="https://www.google.com/",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'action="/leads/"' in html
    fields = hidden_fields(html)
    assert fields["service"] == "business-website"
    assert fields["utm_source"] == "google"
    assert fields["referrer"] == "https://www.google.com/"
    assert fields["form_token"]
    assert "csrfmiddlewaretoken" in fields
    assert re.search(r'class="honeypot"[^>]*>\s*<label for="id_website">', html)
    for name in ("name", "email", "phone", "company", "tin", "message", "marketing_consent"):
        assert f'name="{name}"' in html
    assert "<script>" not in html and "style=" not in html


def test_unknown_or_inactive_service_is_404(client):
    make_service(slug="old", active=False)
    assert client.get("/services/old/").status_code == 404
    assert client.get("/services/nope/").status_code == 404


def test_contact_page_has_the_general_form_without_a_service(client):
    html = client.get("/contact/").content.decode()
    assert 'action="/leads/"' in html
    assert hidden_fields(html).get("service", "") == ""
    assert "How can we help?" in html


def test_nav_links_use_the_routes(client):
    html = client.get("/contact/").content.decode()
    assert 'href="/contact/"' in html
    assert 'href="/#services"' in html


@pytest.mark.parametrize("url", ["/services/business-website/", "/contact/"])
def test_both_lead_forms_ask_for_an_optional_tin_with_its_help(client, url):
    make_service()
    html = client.get(url).content.decode()
    assert '<label for="id_tin">TIN (optional)</label>' in html
    tin_input = re.search(r'<input[^>]*name="tin"[^>]*>', html).group(0)
    assert 'inputmode="numeric"' in tin_input
    assert 'aria-describedby="id_tin_helptext"' in tin_input
    assert "required" not in tin_input
    help_text = r'<p class="help" id="id_tin_helptext">[^<]*9 digits \(e\.g\. 123-456-789\)'
    assert re.search(help_text, html)


def test_the_company_details_on_the_pages_come_from_settings(client, settings):
    settings.COMPANY_NAME = "Kilimo Digital Ltd"
    settings.COMPANY_ADDRESS = "Plot 7, Old Moshi Road, Arusha"
    settings.COMPANY_EMAIL = "info@kilimo.example"
    settings.COMPANY_PHONE = "+255 27 250 0000"
    settings.COMPANY_TIN = "100-200-300"
    settings.COMPANY_VRN = "10-098765-Z"

    contact = client.get("/contact/").content.decode()
    thanks = client.get("/leads/thanks/").content.decode()

    assert "Kilimo Digital Ltd<br>Plot 7<br>Old Moshi Road<br>Arusha" in contact
    assert '<a href="tel:+255272500000">+255 27 250 0000</a>' in contact
    assert '<a href="mailto:info@kilimo.example">info@kilimo.example</a>' in contact
    assert "Kilimo Digital Ltd. TIN 100-200-300, VRN 10-098765-Z." in contact  # footer
    assert '<a href="tel:+255272500000">+255 27 250 0000</a>' in thanks
    for page in (contact, thanks):
        assert "hello@wetech.co.tz" not in page
        assert "+255 22 200 0000" not in page
