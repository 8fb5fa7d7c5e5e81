"""Proof: the AzamPay callback secret and invoice tokens reach no log file, no Sentry envelope and
no error page, whatever the response status.

Requests go through Django's real WSGI handler (the one gunicorn calls, which the Sentry Django
integration wraps to start its transactions), with the site's logging configuration writing to a
temporary LOG_DIR, in text and in JSON, and Sentry initialised by `init_sentry` with a transport
that keeps the envelopes instead of sending them. Then a real gunicorn, started with the project's
gunicorn.conf.py, writes its access and error logs and the site's logs into a temporary folder.
"""

import json
import logging
import logging.config
import os
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
import requests
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError
from django.test import RequestFactory
from sentry_sdk.transport import Transport

from wetech.log import build_logging_config
from wetech.models import Invoice
from wetech.payments.gateways.base import GatewayUnavailable
from wetech.payments.start import payment_start
from wetech.sentry import init_sentry
from wetech.tests.conftest import REPO_ROOT
from wetech.tests.drills.test_worker_crash import _database_url
from wetech.tests.lead_helpers import hidden_fields, make_service
from wetech.tests.payment_helpers import azampay_callback_body, issued_invoice

SECRET = "Proof0fTheCallbackSecret-7c41e9b2d6a85f03"
# A wrong guess is a credential-shaped string too: it must not be written down either.
GUESS = "WrongGuessOfTheSecretValue-2f8a61c0e94b7d35"
UNKNOWN_TOKEN = "NoSuchInvoiceTokenAnywhere_0123456789abcdefXYZ"
# What a visitor typed into the lead form: Sentry must never receive it.
VISITOR = {
    "name": "Zawadi Kileo",
    "email": "zawadi.kileo@example.co.tz",
    "phone": "0754 321 987",
    "message": "Please call me about the shop website",
}


class CollectingTransport(Transport):
    """Keeps every envelope Sentry would send; nothing leaves the machine."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def text(self) -> str:
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)

    def leaks(self, needle: str) -> list[str]:
        """Where in the envelopes `needle` appears (item type and key path), for a clear failure."""
        found = []

        def walk(value, where):
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(item, f"{where}.{key}")
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{where}[{index}]")
            elif needle in str(value):
                found.append(where)

        for envelope in self.envelopes:
            for item in envelope.items:
                payload = item.payload.json if item.payload.json is not None else item.payload.bytes
                walk(payload, item.type or "?")
        if not found and needle in self.text():
            found.append("envelope headers")
        return found

    def items(self, kind: str) -> list[dict]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == kind
        ]


@pytest.fixture
def sentry():
    transport = CollectingTransport()
    init_sentry(
        dsn="https://public@sentry.invalid/1",
        environment="test",
        release="wetech@test",
        traces_sample_rate=1.0,
        transport=transport,
    )
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture(params=["text", "json"])
def log_dir(request, tmp_path, settings):
    """The site's logging with file output into a temporary LOG_DIR, in one format."""
    settings.LOG_DIR = tmp_path
    settings.LOG_FORMAT = request.param
    logging.config.dictConfig(build_logging_config(log_dir=tmp_path, fmt=request.param))
    yield tmp_path
    logging.shutdown()
    logging.config.dictConfig(settings.LOGGING)


def every_log_line(log_dir) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = "\n".join(path.read_text("utf-8") for path in sorted(log_dir.iterdir()))
    assert text.strip(), "nothing was logged: the proof would prove nothing"
    return text


class Site:
    """Requests through Django's WSGI handler, as gunicorn would make them."""

    def __init__(self):
        self.app = WSGIHandler()
        self.factory = RequestFactory()
        self.bodies = []

    def call(self, method, path, data=b"", content_type="application/json", **headers):
        environ = self.factory.generic(
            method, path, data, content_type=content_type, headers=headers
        ).environ
        started = []

        def start_response(status, response_headers, exc_info=None):
            started.append((status, response_headers))

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        status = int(started[0][0].split()[0])
        self.bodies.append((status, path, body))
        return status, started[0][1], body

    def form_page(self, path):
        """GET a page with a form: its hidden fields and the CSRF cookie to send back."""
        status, headers, body = self.call("GET", path)
        assert status == 200
        cookies = SimpleCookie()
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookies.load(value)
        return hidden_fields(body.decode()), f"csrftoken={cookies['csrftoken'].value}"


@pytest.fixture
def site():
    return Site()


def callback(site, body, *, secret=SECRET, method="POST", **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return site.call(method, f"/payments/azampay/callback/{secret}/", raw, **headers)[0]


def _raiser(exc):
    def raise_(*args, **kwargs):
        raise exc

    return raise_


@pytest.mark.django_db(transaction=True)
def test_the_callback_secret_appears_in_no_log_no_sentry_event_and_no_error_page(
    log_dir, sentry, site, settings, azampay, monkeypatch
):
    settings.AZAMPAY_CALLBACK_SECRET = SECRET
    settings.CALLBACK_RATE_LIMIT = "1000/m"
    invoice = issued_invoice()
    attempt = payment_start(
        gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
    )
    body = azampay_callback_body(attempt.attempt)
    seen = []

    # 503: AzamPay's status query is out of reach, so the callback asks for a retry.
    settings.AZAMPAY_STATUS_QUERY = True
    azampay.statuses[body["reference"]] = GatewayUnavailable("down", gateway="azampay")
    seen.append(callback(site, body))
    settings.AZAMPAY_STATUS_QUERY = False
    # 200: a known reference pays; an unknown one is acknowledged and ignored.
    seen.append(callback(site, body))
    assert Invoice.objects.get().status == Invoice.Status.PAID
    seen.append(callback(site, {**body, "utilityref": "WT-2026-09999-X"}))
    # 400: a body that cannot be read; and a request for a host the site does not serve.
    seen.append(callback(site, b"{not json"))
    seen.append(callback(site, body, host="evil.example"))
    # 404: a wrong secret.
    seen.append(callback(site, body, secret=GUESS))
    # 405: the wrong method.
    seen.append(callback(site, b"", method="GET"))
    with monkeypatch.context() as patch:
        # 503: the database is unavailable.
        patch.setattr(
            "wetech.views.payments.notification_record",
            _raiser(OperationalError("could not connect to server: Connection refused")),
        )
        seen.append(callback(site, body))
        # 500: an exception inside the view, whose message even carries the URL.
        patch.setattr(
            "wetech.views.payments.notification_record",
            _raiser(
                RuntimeError(f"failed on http://testserver/payments/azampay/callback/{SECRET}/")
            ),
        )
        seen.append(callback(site, body))
    # 429: over CALLBACK_RATE_LIMIT.
    settings.CALLBACK_RATE_LIMIT = "1/m"
    seen += [callback(site, body) for _ in range(2)]

    assert sorted(set(seen)) == [200, 400, 404, 405, 429, 500, 503], seen
    logs = every_log_line(log_dir)
    for line in ("Bad Request", "Not Found", "Method Not Allowed", "Too Many Requests"):
        assert f"{line}: " in logs or f"{line} (GET): " in logs, line
    assert "Internal Server Error: /payments/azampay/callback/[redacted]/" in logs
    assert "Service Unavailable: /payments/azampay/callback/[redacted]/" in logs
    assert "RuntimeError: failed on http://testserver/payments/azampay/callback/[redacted]/" in logs
    assert sentry.items("event"), "no Sentry event was captured"
    assert sentry.items("transaction"), "no Sentry transaction was captured"
    for leaked in (SECRET, GUESS):
        assert leaked not in logs
        assert not (where := sentry.leaks(leaked)), "\n".join(where)
        for status, path, page in site.bodies:
            assert leaked.encode() not in page, (status, path)


@pytest.mark.django_db(transaction=True)
def test_invoice_tokens_appear_in_no_log_and_no_sentry_event(
    log_dir, sentry, site, settings, azampay, monkeypatch
):
    invoice = issued_invoice()
    page = f"/invoices/{invoice.token}/"
    fields, cookie = site.form_page(page)
    form = "application/x-www-form-urlencoded"
    came_from = {"referer": f"http://testserver{page}"}
    bad_phone = urlencode({**fields, "phone": "12", "provider": "Mpesa"})

    def pay(**headers):
        return site.call(
            "POST", f"{page}pay/azampay/", bad_phone, form, cookie=cookie, **came_from, **headers
        )[0]

    seen = [
        site.call("GET", f"/invoices/{UNKNOWN_TOKEN}/", **came_from)[0],  # 404
        site.call("GET", f"{page}pay/pesapal/", **came_from)[0],  # 405
        site.call("POST", f"{page}pay/pesapal/", b"", form, **came_from)[0],  # 403: no CSRF
        pay(),  # 400: the phone number is not one
    ]
    settings.PAY_RATE_LIMIT = "1/m"
    seen += [pay(), pay()]  # 429
    with monkeypatch.context() as patch:
        patch.setattr(
            "wetech.views.invoices.invoice_status_payload",
            _raiser(RuntimeError(f"failed on {page}")),
        )
        seen.append(site.call("GET", f"{page}status/", **came_from)[0])  # 500

    assert sorted(set(seen)) == [400, 403, 404, 405, 429, 500], seen
    logs = every_log_line(log_dir)
    assert "Not Found: /invoices/[redacted]/" in logs
    assert "Forbidden (CSRF cookie not set.): /invoices/[redacted]/pay/pesapal/" in logs
    assert "Too Many Requests: /invoices/[redacted]/pay/azampay/" in logs
    assert "Internal Server Error: /invoices/[redacted]/status/" in logs
    assert sentry.items("event"), "no Sentry event was captured"
    for leaked in (invoice.token, UNKNOWN_TOKEN):
        assert leaked not in logs
        assert not (where := sentry.leaks(leaked)), "\n".join(where)
    for status, path, body in site.bodies:
        if status >= 400 and not path.startswith(page):
            assert UNKNOWN_TOKEN.encode() not in body, (status, path)


@pytest.mark.django_db(transaction=True)
def test_sentry_gets_no_visitor_details_and_no_cookie_from_a_failed_lead(sentry, site, monkeypatch):
    make_service()
    fields, cookie = site.form_page("/services/business-website/")
    monkeypatch.setattr(
        "wetech.views.leads.lead_capture", _raiser(RuntimeError("the lead could not be stored"))
    )

    status = site.call(
        "POST",
        "/leads/",
        # What a person types comes first, as in the page's form (Sentry keeps 10 fields).
        urlencode({**VISITOR, **fields, "website": ""}),
        "application/x-www-form-urlencoded",
        cookie=f"{cookie}; sessionid=Sess10nCookieValue0123456789",
    )[0]

    assert status == 500
    events = sentry.items("event")
    assert any(e.get("request", {}).get("url", "").endswith("/leads/") for e in events), events
    for leaked in (*VISITOR.values(), "754321987", "Sess10nCookieValue0123456789"):
        assert not (where := sentry.leaks(leaked)), f"{leaked}: " + ", ".join(where)
    assert not any("user" in event for event in events)


# --- a real gunicorn, with the project's gunicorn.conf.py ---------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_site(tmp_path, request):
    """gunicorn serving the site from the test database, one worker, every log into tmp_path."""
    fmt = request.param
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "LOG_DIR": str(tmp_path / "logs"),
        "LOG_FORMAT": fmt,
        "AZAMPAY_CALLBACK_SECRET": SECRET,
        "CALLBACK_RATE_LIMIT": "8/m",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": str(tmp_path / "access.log"),
        "WEB_CONCURRENCY": "1",
    }
    for name in ("SENTRY_DSN", "DJANGO_ALLOW_ASYNC_UNSAFE", "GATEWAY_SIMULATOR"):
        env.pop(name, None)
    with (
        open(tmp_path / "stdout.txt", "wb") as stdout,
        open(tmp_path / "stderr.txt", "wb") as stderr,
    ):
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
                *("--no-control-socket", "--error-logfile", str(tmp_path / "error.log")),
                "wetechnologies.wsgi",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "stderr.txt").read_text()
            try:
                if requests.get(f"{base}/health/live/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        def stop():
            server.terminate()
            server.wait(timeout=60)

        yield base, port, tmp_path, stop
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=60)


def _every_file(folder) -> str:
    return "\n".join(
        path.read_text("utf-8", "replace") for path in sorted(folder.rglob("*")) if path.is_file()
    )


@pytest.mark.parametrize("gunicorn_site", ["text", "json"], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_gunicorn_and_the_site_log_neither_the_secret_nor_an_invoice_token(gunicorn_site):
    base, port, folder, stop = gunicorn_site
    invoice = issued_invoice()
    callback_url = f"{base}/payments/azampay/callback/{SECRET}/"
    unknown = {"utilityref": "WT-2026-09999-X", "amount": "1", "transactionstatus": "success"}
    referer = {"Referer": f"{base}/invoices/{invoice.token}/"}
    seen = [
        requests.post(callback_url, json=unknown, headers=referer, timeout=30).status_code,
        requests.post(callback_url, data=b"{not json", timeout=30).status_code,
        requests.post(f"{base}/payments/azampay/callback/{GUESS}/", json={}, timeout=30),
        requests.get(callback_url, timeout=30).status_code,
        requests.get(f"{base}/invoices/{invoice.token}/", headers=referer, timeout=30),
        requests.get(f"{base}/invoices/{UNKNOWN_TOKEN}/", timeout=30).status_code,
        requests.post(f"{base}/invoices/{invoice.token}/pay/pesapal/", timeout=30).status_code,
    ]
    seen = [s if isinstance(s, int) else s.status_code for s in seen]
    seen += [requests.post(callback_url, json=unknown, timeout=30).status_code for _ in range(6)]
    # A request line gunicorn itself refuses: its error log quotes the line.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(f"POST /payments/azampay/callback/{SECRET}/\x7f HTTP/1.1\r\n\r\n".encode())
        seen.append(int(raw.recv(4096).split()[1]))
    assert sorted(set(seen)) == [200, 400, 403, 404, 405, 429], seen
    stop()  # every line written and every file closed

    text = _every_file(folder)
    for leaked in (SECRET, GUESS, invoice.token, UNKNOWN_TOKEN):
        assert leaked not in text
    access = (folder / "access.log").read_text()
    assert "/payments/azampay/callback/[redacted]/" in access
    assert "/invoices/[redacted]/" in access
    assert "Invalid HTTP request line: 'POST /payments/azampay/callback/[redacted]/" in text
    assert "Not Found: /invoices/[redacted]/" in text
