"""The pay endpoints, the gateways' callbacks and the invoice page's payment states."""

import json
import logging
import re
import time

import pytest
import requests
from django.test import Client as HttpClient

from wetech.callback_auth import parse_networks, plain_ip
from wetech.models import GatewayNotification, Invoice, LedgerEntry, PaymentAttempt
from wetech.payments.gateways.base import GatewayRejected, GatewayUnavailable, PaymentStatus
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import (
    azampay_callback_body,
    configure_gateways,
    issued_invoice,
)

Status = PaymentAttempt.Status
SECRET = "simulator-callback-secret-0123456789abcdef"


@pytest.fixture
def invoice(db):
    return issued_invoice()


def _page(client, invoice):
    return client.get(f"/invoices/{invoice.token}/").content.decode()


def _pay_pesapal(client, invoice, **kwargs):
    return client.post(f"/invoices/{invoice.token}/pay/pesapal/", **kwargs)


def _pay_azampay(client, invoice, phone="0712 345 678", provider="Mpesa", **kwargs):
    return client.post(
        f"/invoices/{invoice.token}/pay/azampay/", {"phone": phone, "provider": provider}, **kwargs
    )


def _azampay_post(client, body, secret=SECRET, **extra):
    return client.post(
        f"/payments/azampay/callback/{secret}/",
        json.dumps(body),
        content_type="application/json",
        **extra,
    )


def _without_request_id(response) -> bytes:
    return response.content.replace(response["X-Request-ID"].encode(), b"<request id>")


@pytest.mark.django_db
class TestPay:
    def test_pesapal_redirects_to_the_hosted_page(self, client, pesapal, invoice):
        response = _pay_pesapal(client, invoice)
        attempt = PaymentAttempt.objects.get()
        assert response.status_code == 303
        assert response["Location"] == attempt.redirect_url
        assert attempt.status == Status.PENDING

    def test_pay_forms_need_csrf(self, pesapal, invoice):
        response = _pay_pesapal(HttpClient(enforce_csrf_checks=True), invoice)
        assert response.status_code == 403
        assert not PaymentAttempt.objects.exists()

    def test_gateway_down_shows_the_page_again_with_503(self, client, pesapal, invoice):
        pesapal.submit_error = GatewayUnavailable("circuit open", gateway="pesapal")
        response = _pay_pesapal(client, invoice)
        html = response.content.decode()
        assert response.status_code == 503
        assert "We cannot reach Pesapal right now, so no payment was started." in html
        assert invoice.number in html
        assert 'action="/invoices/' in html  # the pay options are still offered
        assert not PaymentAttempt.objects.filter(status=Status.INITIATED).exists()
        assert PaymentAttempt.objects.get().status == Status.FAILED

    def test_gateway_down_json_error_shape(self, client, pesapal, invoice):
        pesapal.submit_error = GatewayUnavailable("down", gateway="pesapal")
        response = _pay_pesapal(client, invoice, HTTP_ACCEPT="application/json")
        error = response.json()["error"]
        assert response.status_code == 503
        assert error["code"] == "gateway_unavailable"
        assert error["request_id"] == response["X-Request-ID"]
        assert error["suggestions"]

    def test_gateway_rejection_is_a_502_page(self, client, pesapal, invoice):
        pesapal.submit_error = GatewayRejected("bad currency", gateway="pesapal")
        response = _pay_pesapal(client, invoice)
        assert response.status_code == 502
        assert "Pesapal did not accept the payment request." in response.content.decode()

    def test_paid_invoice_refuses_a_new_attempt(self, client, pesapal, invoice):
        Invoice.objects.filter(pk=invoice.pk).update(status="paid")
        assert _pay_pesapal(client, invoice).status_code == 409
        assert _pay_azampay(client, invoice).status_code == 409
        assert not PaymentAttempt.objects.exists()

    def test_unknown_invoice_is_404(self, client, pesapal, db):
        response = client.post(f"/invoices/{'x' * 43}/pay/pesapal/")
        assert response.status_code == 404

    def test_pay_is_rate_limited_per_invoice(self, client, settings, pesapal, invoice):
        settings.PAY_RATE_LIMIT = "2/m"
        codes = [
            _pay_pesapal(client, invoice, REMOTE_ADDR=f"10.0.0.{n}").status_code
            for n in range(1, 4)
        ]
        assert codes == [303, 303, 429]

    def test_azampay_push_then_the_page_waits_for_the_phone(self, client, azampay, invoice):
        response = _pay_azampay(client, invoice)
        assert response.status_code == 303
        assert response["Location"] == f"/invoices/{invoice.token}/"
        push = azampay.pushes[0]
        assert (push.phone, push.provider) == ("+255712345678", "Mpesa")
        html = _page(client, invoice)
        assert "Approve the prompt on your phone" in html
        assert 'aria-live="polite"' in html
        assert 'data-waiting="azampay"' in html
        assert "ending 678" in html

    @pytest.mark.parametrize(
        ("phone", "provider", "field"),
        [
            ("12345", "Mpesa", "phone"),
            ("+254712345678", "Mpesa", "phone"),  # Kenyan: AzamPay collects in Tanzania only
            ("0712345678", "MPESA", "provider"),
            ("0712345678", "Vodacom", "provider"),
        ],
    )
    def test_azampay_bad_input_is_400_with_field_errors(
        self, client, azampay, invoice, phone, provider, field
    ):
        response = _pay_azampay(client, invoice, phone=phone, provider=provider)
        html = response.content.decode()
        assert response.status_code == 400
        assert f'id="pay-{field}-errors"' in html
        assert "Please check your mobile money details." in html
        assert not PaymentAttempt.objects.exists()
        assert azampay.pushes == []

    def test_azampay_bad_input_json(self, client, azampay, invoice):
        response = _pay_azampay(client, invoice, phone="1", HTTP_ACCEPT="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"
        assert "phone" in response.json()["error"]["fields"]

    def test_failed_attempt_says_try_again(self, client, pesapal, invoice):
        _pay_pesapal(client, invoice)
        attempt = PaymentAttempt.objects.get()
        pesapal.answer(attempt, PaymentStatus.FAILED)
        client.get(f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}")
        html = _page(client, invoice)
        assert "Payment failed, try again." in html
        assert "/pay/pesapal/" in html

    def test_paid_page_shows_the_receipt_and_no_pay_options(self, client, pesapal, invoice):
        _pay_pesapal(client, invoice)
        attempt = PaymentAttempt.objects.get()
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        client.get(f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}")
        html = _page(client, invoice)
        assert 'class="badge badge-paid"' in html
        assert "Receipt" in html
        assert attempt.merchant_reference in html
        assert "PSP123ABC" in html
        assert "TZS 413,000" in html
        assert "/pay/pesapal/" not in html
        status = client.get(f"/invoices/{invoice.token}/status/").json()
        assert status["status"] == "paid"
        assert status["amount_paid"] == "413000.00"
        assert status["payments"] == [
            {"gateway": "pesapal", "status": "completed", "reference": attempt.merchant_reference}
        ]


@pytest.mark.django_db
class TestPesapalNotifications:
    @pytest.fixture
    def attempt(self, client, pesapal, invoice):
        _pay_pesapal(client, invoice)
        return PaymentAttempt.objects.get()

    def test_get_ipn_acknowledges_in_pesapals_format(self, client, pesapal, attempt):
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        response = client.get(
            "/payments/pesapal/ipn/",
            {
                "OrderTrackingId": attempt.gateway_reference,
                "OrderMerchantReference": attempt.merchant_reference,
                "OrderNotificationType": "IPNCHANGE",
            },
        )
        assert response.status_code == 200
        assert response.json() == {
            "orderNotificationType": "IPNCHANGE",
            "orderTrackingId": attempt.gateway_reference,
            "orderMerchantReference": attempt.merchant_reference,
            "status": 200,
        }
        assert Invoice.objects.get().status == Invoice.Status.PAID

    @pytest.mark.parametrize("camel", [False, True])
    def test_post_ipn_json_body_and_duplicates(self, client, pesapal, attempt, camel):
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        keys = ("orderTrackingId", "orderMerchantReference", "orderNotificationType")
        if not camel:
            keys = tuple(key[0].upper() + key[1:] for key in keys)
        body = dict(
            zip(
                keys,
                (attempt.gateway_reference, attempt.merchant_reference, "RECURRING"),
                strict=True,
            )
        )
        answers = [
            client.post("/payments/pesapal/ipn/", json.dumps(body), content_type="application/json")
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert answers[0].json()["orderNotificationType"] == "RECURRING"
        assert {a.json()["status"] for a in answers} == {200}
        assert LedgerEntry.objects.count() == 1
        results = list(GatewayNotification.objects.order_by("pk").values_list("result", flat=True))
        assert results == ["applied", "duplicate", "duplicate"]

    def test_form_encoded_ipn(self, client, pesapal, attempt):
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        response = client.post(
            "/payments/pesapal/ipn/", {"OrderTrackingId": attempt.gateway_reference}
        )
        assert response.json()["status"] == 200
        assert Invoice.objects.get().status == Invoice.Status.PAID

    @pytest.mark.parametrize(
        ("body", "query"),
        [("{broken", ""), ("[1, 2]", ""), ("", "OrderMerchantReference=WT-1")],
    )
    def test_malformed_ipn_is_400_and_kept(self, client, pesapal, attempt, body, query):
        response = client.generic(
            "POST",
            f"/payments/pesapal/ipn/?{query}",
            body,
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        notification = GatewayNotification.objects.get()
        assert notification.result == "rejected"
        assert notification.body == body

    def test_forged_ipn_for_unknown_order_changes_nothing(self, client, pesapal, attempt):
        response = client.get("/payments/pesapal/ipn/?OrderTrackingId=forged-order-id")
        assert response.status_code == 200
        assert response.json()["status"] == 200
        assert pesapal.status_calls == []
        assert PaymentAttempt.objects.get().status == Status.PENDING

    def test_forged_ipn_while_pesapal_says_pending_changes_nothing(self, client, pesapal, attempt):
        response = client.get(f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}")
        assert response.json()["status"] == 200
        assert Invoice.objects.get().status == Invoice.Status.ISSUED
        assert not LedgerEntry.objects.exists()

    def test_status_500_in_the_ack_when_pesapal_cannot_be_asked(self, client, pesapal, attempt):
        pesapal.fail_with(attempt, GatewayUnavailable("down", gateway="pesapal"))
        response = client.get(f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}")
        assert response.status_code == 200
        assert response.json()["status"] == 500

    def test_browser_callback_settles_and_returns_to_the_invoice(
        self, client, pesapal, attempt, invoice
    ):
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        response = client.get(
            "/payments/pesapal/callback/",
            {
                "OrderTrackingId": attempt.gateway_reference,
                "OrderMerchantReference": attempt.merchant_reference,
                "OrderNotificationType": "CALLBACKURL",
            },
        )
        assert response.status_code == 303
        assert response["Location"] == f"/invoices/{invoice.token}/"
        assert Invoice.objects.get().status == Invoice.Status.PAID
        assert GatewayNotification.objects.get().kind == "browser_return"

    def test_browser_callback_while_pending_shows_confirming(
        self, client, pesapal, attempt, invoice
    ):
        response = client.get(
            f"/payments/pesapal/callback/?OrderTrackingId={attempt.gateway_reference}",
            follow=True,
        )
        html = response.content.decode()
        assert "Confirming your payment with Pesapal" in html
        assert 'data-waiting="pesapal"' in html

    def test_browser_callback_unknown_and_malformed(self, client, pesapal, db):
        assert client.get("/payments/pesapal/callback/?OrderTrackingId=nope").status_code == 404
        assert client.get("/payments/pesapal/callback/").status_code == 400

    def test_callbacks_need_no_csrf_or_session(self, pesapal, attempt):
        strict = HttpClient(enforce_csrf_checks=True)
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        response = strict.post(
            "/payments/pesapal/ipn/",
            json.dumps({"OrderTrackingId": attempt.gateway_reference}),
            content_type="application/json",
        )
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers or "sessionid" not in response["Set-Cookie"]

    def test_callbacks_are_rate_limited_generously(self, client, settings, pesapal, attempt):
        settings.CALLBACK_RATE_LIMIT = "3/m"
        url = f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}"
        codes = [client.get(url).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]


@pytest.mark.django_db
class TestAzamPayCallback:
    @pytest.fixture
    def attempt(self, client, azampay, invoice):
        _pay_azampay(client, invoice)
        return PaymentAttempt.objects.get()

    def test_wrong_secret_is_404_and_not_recorded(self, client, attempt):
        response = _azampay_post(client, azampay_callback_body(attempt), secret="wrong")
        assert response.status_code == 404
        assert not GatewayNotification.objects.exists()
        assert Invoice.objects.get().status == Invoice.Status.ISSUED

    def test_no_configured_secret_is_404(self, client, settings, attempt):
        settings.AZAMPAY_CALLBACK_SECRET = ""
        assert _azampay_post(client, azampay_callback_body(attempt), secret="x").status_code == 404

    def test_right_secret_pays(self, client, attempt):
        response = _azampay_post(client, azampay_callback_body(attempt))
        assert response.status_code == 200
        assert response.json()["success"] is True
        assert Invoice.objects.get().status == Invoice.Status.PAID
        assert _azampay_post(client, azampay_callback_body(attempt)).json()["result"] == (
            "duplicate"
        )
        assert LedgerEntry.objects.count() == 1

    def test_right_secret_wrong_amount_is_needs_review(self, client, attempt):
        response = _azampay_post(client, azampay_callback_body(attempt, amount="413"))
        assert response.status_code == 200
        attempt.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()

    def test_unknown_reference_is_200(self, client, attempt):
        response = _azampay_post(
            client, azampay_callback_body(attempt, utilityref="WT-2026-00009-ABCDEF12")
        )
        assert response.status_code == 200
        assert response.json()["result"] == "ignored"

    def test_malformed_is_400(self, client, attempt):
        response = client.post(
            f"/payments/azampay/callback/{SECRET}/", "nope", content_type="application/json"
        )
        assert response.status_code == 400
        assert GatewayNotification.objects.get().result == "rejected"

    def test_every_secret_of_a_rotation_list_is_accepted(self, client, settings, attempt):
        new = "n3w-callback-secret-registered-first-0123456789"
        settings.AZAMPAY_CALLBACK_SECRET = f"{new}, {SECRET}"
        old_body = azampay_callback_body(attempt)
        assert _azampay_post(client, old_body, secret=SECRET).json()["result"] == "applied"
        assert _azampay_post(client, old_body, secret=new).json()["result"] == "duplicate"
        assert _azampay_post(client, old_body, secret=f"{new},{SECRET}").status_code == 404
        assert _azampay_post(client, old_body, secret="x" * 40).status_code == 404
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_a_secret_shorter_than_32_characters_is_never_accepted(self, client, settings, attempt):
        settings.AZAMPAY_CALLBACK_SECRET = "short-but-set"
        response = _azampay_post(client, azampay_callback_body(attempt), secret="short-but-set")
        assert response.status_code == 404
        assert Invoice.objects.get().status == Invoice.Status.ISSUED

    @pytest.mark.parametrize("remote", ["196.46.10.7", "::ffff:196.46.10.7", "2001:db8:aa::5"])
    def test_a_callback_from_an_allowed_network_pays(self, client, settings, attempt, remote):
        settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = parse_networks(
            ["196.46.10.0/24", "2001:db8:aa::/48"]
        )
        response = _azampay_post(client, azampay_callback_body(attempt), REMOTE_ADDR=remote)
        assert response.status_code == 200
        assert Invoice.objects.get().status == Invoice.Status.PAID

    @pytest.mark.parametrize(
        "remote", ["203.0.113.9", "::ffff:203.0.113.9", "2001:db8:bb::5", "127.0.0.1"]
    )
    def test_a_callback_from_elsewhere_is_refused_like_a_wrong_secret_and_recorded(
        self, client, settings, attempt, caplog, remote
    ):
        settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = parse_networks(
            ["196.46.10.0/24", "2001:db8:aa::/48"]
        )
        body = azampay_callback_body(attempt)
        wrong_secret = _azampay_post(client, body, secret="w" * 40, REMOTE_ADDR="196.46.10.7")
        with caplog.at_level(logging.WARNING, logger="wetech.payments"):
            response = _azampay_post(client, body, REMOTE_ADDR=remote)
        assert response.status_code == wrong_secret.status_code == 404
        assert _without_request_id(response) == _without_request_id(wrong_secret)
        assert response["Content-Type"] == wrong_secret["Content-Type"]
        # Nothing moved, but the refusal is on record for a person.
        assert Invoice.objects.get().status == Invoice.Status.ISSUED
        assert PaymentAttempt.objects.get().status == Status.PENDING
        assert not LedgerEntry.objects.exists()
        notification = GatewayNotification.objects.get()
        assert notification.result == "rejected"
        assert notification.error == "client address not in AZAMPAY_CALLBACK_ALLOWED_NETWORKS"
        assert plain_ip(notification.remote_ip) == plain_ip(remote)
        assert json.loads(notification.body)["utilityref"] == attempt.merchant_reference
        warnings = [
            r
            for r in caplog.records
            if r.name == "wetech.payments" and r.levelno == logging.WARNING
        ]
        assert [r.getMessage() for r in warnings] == [
            f"azampay callback from {plain_ip(remote)} refused: "
            "not in AZAMPAY_CALLBACK_ALLOWED_NETWORKS"
        ]
        # (django.request's own "Not Found: <path>" line is masked by the logging filters.)
        assert all(SECRET not in r.getMessage() for r in warnings)

    def test_allowed_networks_judge_the_client_by_the_trusted_proxy_rule(
        self, client, settings, attempt
    ):
        settings.TRUSTED_PROXY_COUNT = 1
        settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = parse_networks(["196.46.10.0/24"])
        body = azampay_callback_body(attempt)
        # The proxy (127.0.0.1) appended the real client; what the client wrote itself is not
        # believed, whichever way round.
        spoofed = _azampay_post(
            client, body, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="196.46.10.7, 203.0.113.9"
        )
        assert spoofed.status_code == 404
        assert GatewayNotification.objects.get().remote_ip == "203.0.113.9"
        proxied = _azampay_post(
            client, body, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 196.46.10.7"
        )
        assert proxied.status_code == 200
        assert Invoice.objects.get().status == Invoice.Status.PAID

    def test_a_success_without_the_transaction_id_goes_to_review(
        self, client, attempt, django_capture_on_commit_callbacks
    ):
        body = azampay_callback_body(attempt)
        for key in ("reference", "transid", "externalreference"):
            del body[key]
        with django_capture_on_commit_callbacks(execute=True):
            response = _azampay_post(client, body)
        assert response.status_code == 200
        attempt.refresh_from_db()
        assert attempt.status == Status.NEEDS_REVIEW
        assert Invoice.objects.get().status == Invoice.Status.NEEDS_REVIEW
        assert not LedgerEntry.objects.exists()
        alerts = [m for m in delivered() if m.subject.startswith("Action needed")]
        assert [m.to for m in alerts] == [["accounts@wetech.co.tz"]]

    def test_status_query_down_judges_the_callback_as_with_the_query_off(
        self, client, settings, azampay, attempt, caplog
    ):
        # Issue 11: a failing status query must not answer 503 for ever; the callback, already
        # past the secret path, is judged by the same rules as with the query off.
        settings.AZAMPAY_STATUS_QUERY = True
        azampay.statuses[attempt.gateway_reference] = GatewayUnavailable("x", gateway="azampay")
        with caplog.at_level(logging.WARNING, logger="wetech.payments"):
            response = _azampay_post(client, azampay_callback_body(attempt))
        assert response.status_code == 200
        assert response.json() == {"success": True, "message": "Received", "result": "applied"}
        assert GatewayNotification.objects.get().result == "applied"
        assert Invoice.objects.get().status == Invoice.Status.PAID
        assert [r.getMessage() for r in caplog.records if r.name == "wetech.payments"][:1] == [
            f"azampay status of {attempt.merchant_reference} unavailable: GatewayUnavailable"
        ]


# --- end to end against the simulators, over real HTTP ----------------------------------------


@pytest.fixture
def simulators(live_server, settings):
    # The AzamPay status query stays off, as in production: the callback carries the news.
    configure_gateways(settings, live_server.url)
    settings.ALLOWED_HOSTS = ["*"]
    # Plain-HTTP live server: a Secure cookie would never come back.
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SECURE = False
    reset_gateway_clients()
    yield live_server.url
    reset_gateway_clients()


def _session_pay(session, base, invoice, path, data=None):
    page = session.get(f"{base}/invoices/{invoice.token}/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{base}/invoices/{invoice.token}/pay/{path}/",
        data={"csrfmiddlewaretoken": token, **(data or {})},
        headers={"Referer": f"{base}/invoices/{invoice.token}/"},
        allow_redirects=False,
        timeout=30,
    )


def _wait_for(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_pesapal_end_to_end_against_the_simulator(simulators):
    base = simulators
    invoice = issued_invoice()
    session = requests.Session()
    response = _session_pay(session, base, invoice, "pesapal")
    assert response.status_code == 303
    hosted = session.get(response.headers["Location"], timeout=10)
    assert hosted.status_code == 200
    assert "413,000" in hosted.text or "413000" in hosted.text
    form_action = re.search(r'<form[^>]*action="([^"]*)"', hosted.text)
    action = form_action.group(1) if form_action and form_action.group(1) else hosted.url
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', hosted.text)
    paid = session.post(
        requests.compat.urljoin(hosted.url, action),
        data={"action": "pay", **({"csrfmiddlewaretoken": csrf.group(1)} if csrf else {})},
        headers={"Referer": hosted.url},
        timeout=30,
    )
    # The browser comes back through our callback to the invoice page.
    assert paid.status_code == 200
    assert paid.url == f"{base}/invoices/{invoice.token}/"
    assert _wait_for(
        lambda: GatewayNotification.objects.filter(kind="ipn").exclude(result="received").exists()
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert "Receipt" in session.get(paid.url, timeout=10).text
    assert LedgerEntry.objects.count() == 1
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == Status.COMPLETED and attempt.confirmation_code.startswith("SIM")
    # One of the two settles it; the other is a duplicate, or (when it arrived while the first
    # one's status query was in flight) coalesced and recorded as ignored: never applied twice.
    results = dict(GatewayNotification.objects.values_list("kind", "result"))
    assert sorted(results) == ["browser_return", "ipn"]
    assert sorted(results.values()).count("applied") == 1
    assert set(results.values()) <= {"applied", "duplicate", "ignored"}
    assert len([m for m in delivered() if m.subject.startswith("Receipt")]) == 1


@pytest.mark.django_db(transaction=True)
def test_azampay_end_to_end_against_the_simulator(simulators):
    base = simulators
    invoice = issued_invoice()
    session = requests.Session()
    response = _session_pay(
        session, base, invoice, "azampay", {"phone": "0712 345 678", "provider": "Mpesa"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/invoices/{invoice.token}/"
    assert _wait_for(
        lambda: Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.PAID).exists()
    )
    status = session.get(f"{base}/invoices/{invoice.token}/status/", timeout=10).json()
    attempt = PaymentAttempt.objects.get()
    assert status["status"] == "paid"
    assert status["amount_paid"] == "413000.00"
    assert status["payments"] == [
        {"gateway": "azampay", "status": "completed", "reference": attempt.merchant_reference}
    ]
    # The invoice reads paid at the settlement's commit; the callback's request goes on to send
    # the emails (the receipt draws its PDF) before it records the notification's result.
    assert _wait_for(lambda: GatewayNotification.objects.exclude(result="received").exists())
    assert GatewayNotification.objects.get().result == "applied"
    assert len([m for m in delivered() if m.subject.startswith("Receipt")]) == 1


@pytest.mark.django_db(transaction=True)
def test_azampay_declined_push_says_try_again(simulators):
    base = simulators
    invoice = issued_invoice()
    session = requests.Session()
    _session_pay(session, base, invoice, "azampay", {"phone": "0712 345 000", "provider": "Tigo"})
    assert _wait_for(lambda: PaymentAttempt.objects.filter(status=Status.FAILED).exists())
    page = session.get(f"{base}/invoices/{invoice.token}/", timeout=10).text
    assert "Payment failed, try again." in page
    assert Invoice.objects.get().status == Invoice.Status.ISSUED
