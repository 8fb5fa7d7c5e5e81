"""The customer's pages, forms, messages and JSON errors in Kiswahili (`/sw/`, or Accept-Language
for a JSON client), with the same error codes and the same money format as in English."""

import re
from datetime import UTC, datetime
from html import unescape

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from wetech.models import Invoice, Service
from wetech.payments.gateways.base import GatewayUnavailable, PaymentStatus
from wetech.payments.start import payment_start
from wetech.sales.catalogue import DEMO_CATALOGUE, catalogue_load
from wetech.tests.document_helpers import pdf_text
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

SERVICE = "/services/business-website/"


def _text(response) -> str:
    """The page's words, as a person reads them (tags dropped, entities decoded)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


class TestPages:
    def test_the_home_page_speaks_kiswahili_and_prices_stay_in_tzs(self, client):
        make_service(price=1500000, price_note="one-off")
        make_service(slug="mobile-app", name="Mobile app", price=None)
        text = _text(client.get("/sw/"))
        assert "Huduma zetu" in text
        assert "Teknolojia inayoisukuma biashara yako mbele" in text
        assert "Bei kwa maombi" in text
        assert "TZS 1,500,000 + VAT" in text
        assert "Our services" not in text
        assert "Priced on request" not in text

    def test_the_service_page_and_its_form(self, client):
        make_service()
        response = client.get(f"/sw{SERVICE}")
        text = _text(response)
        html = response.content.decode()
        for words in ("Jina lako", "Barua pepe", "Namba ya simu", "Kampuni (si lazima)"):
            assert words in text
        assert "Tuma na upate ankara yangu" in text
        assert 'data-busy-label="Inatuma…"' in html
        assert 'action="/sw/leads/"' in html

    def test_form_errors_come_back_in_kiswahili(self, client):
        make_service()
        data = lead_post(client, f"/sw{SERVICE}", name="", email="si-barua-pepe", phone="12")
        response = client.post("/sw/leads/", data)
        text = _text(response)
        assert response.status_code == 400
        assert "Baadhi ya taarifa zinahitaji kuangaliwa upya" in text
        assert "Tafadhali tuambie jina lako." in text
        assert "Andika anwani sahihi ya barua pepe" in text
        assert (
            "Andika namba ya simu kama 0712 345 678" in text or "Namba hiyo ya simu haipo" in text
        )

    @pytest.mark.parametrize(
        ("path", "words"),
        [
            ("/sw/contact/", "Tuambie unachohitaji"),
            ("/sw/leads/thanks/", "Tutawasiliana nawe hivi karibuni"),
        ],
    )
    def test_the_other_pages(self, client, path, words):
        assert words in _text(client.get(path))

    def test_an_error_page_in_kiswahili(self, client):
        response = client.get("/sw/hakuna/")
        text = _text(response)
        assert response.status_code == 404
        assert "Ukurasa haupatikani" in text
        assert "Hatukuweza kupata ukurasa huo." in text
        assert "Rudi ukurasa wa mwanzo" in text


class TestInvoicePage:
    @time_machine.travel(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), tick=False)
    def test_the_invoice_speaks_kiswahili_with_kiswahili_dates_and_the_same_money(
        self, client, fakes
    ):
        invoice = issued_invoice()
        response = client.get(f"/sw/invoices/{invoice.token}/")
        text = _text(response)
        html = response.content.decode()
        assert response.status_code == 200
        assert '<meta name="robots" content="noindex, nofollow">' in html
        for words in ("Ankara ya kodi", "Namba ya ankara", "Jumla ndogo", "VAT 18%", "Jumla kuu"):
            assert words in text
        assert "Haijalipwa" in text  # the status badge
        assert "16 Novemba 2026" in text  # date of issue
        assert "30 Novemba 2026" in text  # due date
        assert "Lipa TZS 413,000" in text
        assert "Tafadhali lipa ifikapo 30 Novemba 2026." in text
        assert "Tuma ombi kwenye simu yangu" in text
        # The payment script's words, from the page, in the page's language.
        assert 'data-text-failed="Malipo hayakufanikiwa, jaribu tena."' in html
        assert 'data-status-url="/sw/invoices/' in html

    @time_machine.travel(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), tick=False)
    def test_the_english_page_of_the_same_invoice_stays_english(self, client):
        invoice = issued_invoice()
        text = _text(client.get(f"/invoices/{invoice.token}/"))
        assert "30 November 2026" in text
        assert "Tax invoice" in text

    @time_machine.travel(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), tick=False)
    def test_the_pdf_is_in_the_invoices_language_whichever_page_links_to_it(self, client):
        kiswahili = issued_invoice(language="sw")
        english = issued_invoice(email="juma@example.co.tz")
        for prefix in ("", "/sw"):
            sw_text = pdf_text(client.get(f"{prefix}/invoices/{kiswahili.token}/pdf/").content)
            en_text = pdf_text(client.get(f"{prefix}/invoices/{english.token}/pdf/").content)
            assert "ANKARA YA KODI" in sw_text
            assert "Mwisho wa kulipa\n30 Novemba 2026" in sw_text
            assert "Jumla kuu\nTZS 413,000" in sw_text
            assert "TAX INVOICE" in en_text
            assert "Due date\n30 November 2026" in en_text

    def test_a_gateway_down_is_said_kindly_in_kiswahili(self, client, pesapal):
        invoice = issued_invoice()
        pesapal.submit_error = GatewayUnavailable("circuit open", gateway="pesapal")
        response = client.post(f"/sw/invoices/{invoice.token}/pay/pesapal/")
        text = _text(response)
        assert response.status_code == 503
        assert (
            "Samahani, hatukuweza kufikia Pesapal kwa sasa, kwa hiyo hakuna malipo yaliyoanzishwa."
            in text
        )
        assert "Tafadhali jaribu tena baada ya dakika chache." in text

    def test_a_push_form_error_in_kiswahili(self, client, fakes):
        invoice = issued_invoice()
        response = client.post(
            f"/sw/invoices/{invoice.token}/pay/azampay/", {"phone": "", "provider": "Mpesa"}
        )
        text = _text(response)
        assert response.status_code == 400
        assert "Tafadhali hakiki taarifa za malipo yako kwa simu." in text
        assert "Tafadhali andika namba ya simu utakayolipia." in text


class TestJsonErrors:
    """Message and suggestions follow Accept-Language; the code never changes."""

    def _lead(self, client, accept_language):
        make_service()
        data = lead_post(client, SERVICE, email="si-barua-pepe")
        return client.post(
            "/leads/", data, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=accept_language
        )

    def test_a_validation_error_in_kiswahili_has_the_same_code(self, client):
        error = self._lead(client, "sw").json()["error"]
        assert error["code"] == "validation_error"
        assert error["message"] == (
            "Baadhi ya taarifa zinahitaji kuangaliwa upya kabla hatujatuma ombi lako."
        )
        assert error["suggestions"] == [
            "Sahihisha sehemu zilizoorodheshwa kwenye `fields` kisha utume fomu tena."
        ]
        assert error["fields"]["email"] == [
            "Andika anwani sahihi ya barua pepe, mfano asha@example.co.tz."
        ]

    def test_the_same_error_in_english(self, client):
        response = self._lead(client, "en-GB,en;q=0.9")
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["message"] == "Some details need another look before we can send your request."
        assert response["Content-Language"] == "en"

    def test_the_answer_says_its_language_and_varies_on_the_header(self, client):
        response = self._lead(client, "sw-TZ")
        assert response["Content-Language"] == "sw"
        assert "accept-language" in response["Vary"].lower()

    def test_an_unknown_url_answers_in_kiswahili(self, client):
        response = client.get("/hakuna/", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="sw")
        error = response.json()["error"]
        assert response.status_code == 404
        assert error["code"] == "not_found"
        assert error["message"] == "Hatukuweza kupata ukurasa huo."

    @override_settings(LEADS_RATE_LIMIT="1/m")
    def test_the_rate_limit_answers_in_kiswahili(self, client):
        make_service()
        data = lead_post(client, SERVICE)
        headers = {"HTTP_ACCEPT": "application/json", "HTTP_ACCEPT_LANGUAGE": "sw"}
        assert client.post("/leads/", data, **headers).status_code == 201
        response = client.post("/leads/", data, **headers)
        error = response.json()["error"]
        assert response.status_code == 429
        assert error["code"] == "rate_limited"
        assert error["message"] == "Umetuma maombi mengi kwa muda mfupi."
        assert error["retry_after"] == 60

    def test_a_gateway_down_for_a_json_client_in_kiswahili(self, client, pesapal):
        invoice = issued_invoice()
        pesapal.submit_error = GatewayUnavailable("down", gateway="pesapal")
        response = client.post(
            f"/invoices/{invoice.token}/pay/pesapal/",
            HTTP_ACCEPT="application/json",
            HTTP_ACCEPT_LANGUAGE="sw",
        )
        error = response.json()["error"]
        assert response.status_code == 503
        assert error["code"] == "gateway_unavailable"
        assert error["message"].startswith("Samahani, hatukuweza kufikia Pesapal kwa sasa")
        assert "Hukukatwa pesa yoyote." in error["suggestions"]

    def test_a_kiswahili_json_lead_gets_its_invoice_link_in_kiswahili(self, client):
        make_service()
        data = lead_post(client, SERVICE)
        response = client.post(
            "/leads/", data, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="sw"
        )
        invoice = Invoice.objects.get()
        assert (
            response.json()["invoice"]["url"] == f"{settings.SITE_URL}/sw/invoices/{invoice.token}/"
        )


class TestCatalogue:
    def test_the_services_in_kiswahili(self, client):
        catalogue_load(entries=DEMO_CATALOGUE)
        text = _text(client.get("/sw/"))
        assert "Tovuti ya biashara" in text
        assert "TZS 1,500,000 + VAT · malipo ya mara moja" in text
        assert "TZS 450,000 + VAT · kwa mwaka" in text
        assert "Business website" not in text
        page = _text(client.get(f"/sw{SERVICE}"))
        assert "Agiza Tovuti ya biashara" in page
        assert "Tunabuni na kutengeneza tovuti ya kampuni yako" in page

    def test_the_invoice_line_is_written_in_the_customers_language_and_stays(self, client):
        catalogue_load(entries=DEMO_CATALOGUE)
        client.post("/sw/leads/", lead_post(client, f"/sw{SERVICE}"))
        client.post("/leads/", lead_post(client, SERVICE, email="juma@example.co.tz"))
        lines = dict(Invoice.objects.values_list("language", "lines__description"))
        assert lines == {
            "sw": "Tovuti ya biashara (malipo ya mara moja)",
            "en": "Business website (one-off)",
        }
        # Staff rename the service later: issued invoices keep what they said.
        Service.objects.filter(slug="business-website").update(name_sw="Tovuti mpya")
        sw_invoice = Invoice.objects.get(language="sw")
        assert "Tovuti ya biashara (malipo ya mara moja)" in _text(
            client.get(f"/sw/invoices/{sw_invoice.token}/")
        )

    def test_staff_edit_both_languages_in_the_admin(self, admin_client):
        html = admin_client.get("/admin/wetech/service/add/").content.decode()
        for field in ("name_en", "name_sw", "summary_sw", "description_sw", "price_note_sw"):
            assert f'name="{field}"' in html
        assert '<html lang="en"' in html


class TestReturnFromTheGateway:
    """Pesapal's browser return has one URL, registered without a language."""

    def test_the_customer_comes_back_to_the_invoice_in_its_language(self, client, pesapal):
        invoice = issued_invoice(language="sw")
        attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        response = client.get(
            "/payments/pesapal/callback/",
            {
                "OrderTrackingId": attempt.gateway_reference,
                "OrderMerchantReference": attempt.merchant_reference,
                "OrderNotificationType": "CALLBACKURL",
            },
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 303
        assert response["Location"] == f"/sw/invoices/{invoice.token}/"

    def test_a_link_we_cannot_follow_is_explained_in_the_visitors_language(self, client, pesapal):
        kiswahili = client.get("/payments/pesapal/callback/", HTTP_ACCEPT_LANGUAGE="sw")
        assert kiswahili.status_code == 400
        assert "Kiungo hiki kutoka Pesapal hakijakamilika" in _text(kiswahili)
        assert '<html lang="sw">' in kiswahili.content.decode()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        english = client.get("/payments/pesapal/callback/?OrderTrackingId=nope")
        assert english.status_code == 404
        assert "We could not find the payment this link is about." in _text(english)
