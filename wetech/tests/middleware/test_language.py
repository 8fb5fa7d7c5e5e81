"""The language of a request: English at today's URLs, Kiswahili under /sw/, the front door's
redirect for browsers that prefer Kiswahili, the header's switcher and the language cookie, and
JSON clients answered in their Accept-Language."""

import re
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from wetech.models import Invoice, Lead
from wetech.tests.lead_helpers import lead_post, make_service

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def _switch_form(html: str) -> dict:
    """The header's language switcher as a browser would post it."""
    form = re.search(
        r'<form class="language-switch[^"]*" method="post" action="([^"]+)">(.*?)</form>',
        html,
        re.S,
    )
    assert form, "no language switcher on the page"
    body = form.group(2)
    button = re.search(r'<button[^>]*name="language" value="([^"]+)"[^>]*>([^<]+)</button>', body)
    return {
        "action": form.group(1),
        "next": unescape(re.search(r'name="next" value="([^"]*)"', body).group(1)),
        "language": button.group(1),
        "label": button.group(2),
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(
            1
        ),
    }


class TestFrontDoor:
    @pytest.mark.parametrize(
        "accept",
        ["sw", "sw-TZ,sw;q=0.9,en;q=0.8", "en;q=0.5,sw;q=0.9", "fr-FR,fr;q=0.9,sw;q=0.8,en;q=0.7"],
    )
    def test_a_browser_preferring_kiswahili_lands_on_the_kiswahili_home(self, client, accept):
        response = client.get("/", HTTP_ACCEPT_LANGUAGE=accept)
        assert response.status_code == 302
        assert response["Location"] == "/sw/"
        assert {"accept-language", "cookie"} <= _vary(response)

    @pytest.mark.parametrize("accept", ["", "en", "en-GB,en;q=0.9,sw;q=0.5", "fr", "*"])
    def test_other_browsers_stay_on_the_english_home_which_also_varies(self, client, accept):
        response = client.get("/", HTTP_ACCEPT_LANGUAGE=accept)
        assert response.status_code == 200
        assert '<html lang="en">' in response.content.decode()
        assert {"accept-language", "cookie"} <= _vary(response)

    def test_the_query_string_comes_along(self, client):
        response = client.get("/?utm_source=sms&utm_campaign=mei", HTTP_ACCEPT_LANGUAGE="sw")
        assert response["Location"] == "/sw/?utm_source=sms&utm_campaign=mei"

    def test_an_english_cookie_stops_the_redirect(self, client):
        client.cookies[COOKIE] = "en"
        response = client.get("/", HTTP_ACCEPT_LANGUAGE="sw")
        assert response.status_code == 200
        assert '<html lang="en">' in response.content.decode()

    def test_a_kiswahili_cookie_opens_the_kiswahili_home_whatever_the_browser_says(self, client):
        client.cookies[COOKIE] = "sw"
        response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302
        assert response["Location"] == "/sw/"

    def test_a_cookie_naming_no_language_of_ours_is_ignored(self, client):
        client.cookies[COOKIE] = "xx"
        assert client.get("/", HTTP_ACCEPT_LANGUAGE="sw")["Location"] == "/sw/"
        assert client.get("/", HTTP_ACCEPT_LANGUAGE="en").status_code == 200

    def test_only_the_front_door_redirects(self, client):
        make_service()
        response = client.get("/services/business-website/", HTTP_ACCEPT_LANGUAGE="sw")
        assert response.status_code == 200
        assert '<html lang="en">' in response.content.decode()

    def test_the_kiswahili_home_is_kiswahili(self, client):
        response = client.get("/sw/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert '<html lang="sw">' in response.content.decode()
        assert response["Content-Language"] == "sw"


class TestPrefixes:
    def test_pages_exist_in_both_languages(self, client):
        make_service()
        for path in ("/", "/services/business-website/", "/contact/", "/leads/thanks/"):
            english = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
            kiswahili = client.get(f"/sw{path}")
            assert english.status_code == 200, path
            assert kiswahili.status_code == 200, path
            assert '<html lang="en">' in english.content.decode()
            assert '<html lang="sw">' in kiswahili.content.decode()

    def test_links_on_a_kiswahili_page_stay_in_kiswahili(self, client):
        make_service()
        html = client.get("/sw/").content.decode()
        assert 'href="/sw/services/business-website/"' in html
        assert 'href="/sw/contact/"' in html

    @pytest.mark.parametrize(
        "path",
        [
            "/sw/payments/pesapal/callback/",
            "/sw/payments/pesapal/ipn/",
            "/sw/payments/azampay/callback/whatever-the-secret-is/",
            "/sw/health/",
            "/sw/health/live/",
            "/sw/admin/",
            "/sw/i18n/setlang/",
        ],
    )
    def test_gateways_probes_and_the_admin_have_no_kiswahili_twin(self, client, path):
        assert client.get(path).status_code == 404

    def test_gateway_and_probe_urls_are_the_same_in_either_language(self):
        for language in ("en", "sw"):
            with translation.override(language):
                assert reverse("pesapal_callback") == "/payments/pesapal/callback/"
                assert reverse("pesapal_ipn") == "/payments/pesapal/ipn/"
                assert reverse("azampay_callback", args=["s" * 32]) == (
                    f"/payments/azampay/callback/{'s' * 32}/"
                )
                assert reverse("health-live") == "/health/live/"
                assert reverse("admin:index") == "/admin/"

    def test_the_admin_and_the_probes_answer_unprefixed_whatever_the_browser_prefers(self, client):
        assert client.get("/health/live/", HTTP_ACCEPT_LANGUAGE="sw").status_code == 200
        login = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="sw")
        assert login.status_code == 200
        assert '<html lang="en"' in login.content.decode()

    def test_an_unknown_kiswahili_page_is_a_kiswahili_404_without_the_path(self, client):
        response = client.get("/sw/hakuna-ukurasa-huu/")
        assert response.status_code == 404
        html = response.content.decode()
        assert '<html lang="sw">' in html
        assert "hakuna-ukurasa-huu" not in html
        # The switcher on an error page is a plain link home: no form, no token, no path.
        assert 'class="language-switch' not in html
        assert re.search(r'<a class="button language-button[^"]*" href="/" lang="en"', html)


class TestSwitcher:
    def test_it_offers_the_same_page_in_the_other_language(self, client):
        make_service()
        english = _switch_form(
            client.get("/services/business-website/?utm_source=x").content.decode()
        )
        assert english["action"] == "/i18n/setlang/"
        assert english["language"] == "sw"
        assert english["label"] == "Kiswahili"
        assert english["next"] == "/sw/services/business-website/?utm_source=x"
        kiswahili = _switch_form(client.get("/sw/services/business-website/").content.decode())
        assert kiswahili["language"] == "en"
        assert kiswahili["label"] == "English"
        assert kiswahili["next"] == "/services/business-website/"

    def test_it_round_trips_and_the_cookie_remembers_the_choice(self, client):
        make_service()
        client.get("/services/business-website/")
        form = _switch_form(client.get("/services/business-website/").content.decode())
        response = client.post(
            form["action"], {k: form[k] for k in ("next", "language", "csrfmiddlewaretoken")}
        )
        assert response.status_code == 302
        assert response["Location"] == "/sw/services/business-website/"
        cookie = response.cookies[COOKIE]
        assert cookie.value == "sw"
        assert int(cookie["max-age"]) >= 300 * 24 * 3600
        # Remembered: the front door now opens in Kiswahili, whatever the browser says.
        assert client.get("/", HTTP_ACCEPT_LANGUAGE="en")["Location"] == "/sw/"
        # And back.
        form = _switch_form(client.get("/sw/services/business-website/").content.decode())
        response = client.post(
            form["action"], {k: form[k] for k in ("next", "language", "csrfmiddlewaretoken")}
        )
        assert response["Location"] == "/services/business-website/"
        assert response.cookies[COOKIE].value == "en"
        assert client.get("/", HTTP_ACCEPT_LANGUAGE="sw").status_code == 200

    def test_on_an_invoice_it_keeps_the_invoice(self, client):
        make_service()
        data = lead_post(client, "/services/business-website/")
        invoice_url = client.post("/leads/", data)["Location"]
        form = _switch_form(client.get(invoice_url).content.decode())
        assert form["next"] == f"/sw{invoice_url}"

    def test_after_a_refused_form_it_offers_the_form_page_not_the_post_url(self, client):
        make_service()
        data = lead_post(client, "/sw/services/business-website/", email="not-an-email")
        response = client.post("/sw/leads/", data)
        assert response.status_code == 400
        assert _switch_form(response.content.decode())["next"] == "/services/business-website/"


class TestStoredLanguage:
    def test_a_lead_from_a_kiswahili_page_stores_kiswahili_with_its_invoice(self, client):
        make_service()
        data = lead_post(client, "/sw/services/business-website/")
        assert data["landing_page"] == "/sw/services/business-website/"
        response = client.post("/sw/leads/", data, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 303
        lead = Lead.objects.get()
        invoice = Invoice.objects.get()
        assert (lead.language, invoice.language) == ("sw", "sw")
        assert response["Location"] == f"/sw/invoices/{invoice.token}/"

    def test_a_lead_from_an_english_page_stores_english_whatever_the_browser_prefers(self, client):
        make_service()
        data = lead_post(client, "/services/business-website/")
        response = client.post("/leads/", data, HTTP_ACCEPT_LANGUAGE="sw")
        assert response["Location"].startswith("/invoices/")
        assert Lead.objects.get().language == "en"
        assert Invoice.objects.get().language == "en"

    @pytest.mark.parametrize(
        ("accept", "language"), [("sw-TZ,en;q=0.5", "sw"), ("en", "en"), ("", "en")]
    )
    def test_a_json_client_is_stored_in_its_accept_language(self, client, accept, language):
        make_service()
        data = lead_post(client, "/services/business-website/")
        response = client.post(
            "/leads/", data, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=accept
        )
        assert response.status_code == 201
        assert Lead.objects.get().language == language
        assert response.json()["lead"]["language"] == language
        invoice = Invoice.objects.get()
        assert invoice.language == language
        prefix = "/sw" if language == "sw" else ""
        assert response.json()["invoice"]["url"].endswith(f"{prefix}/invoices/{invoice.token}/")
