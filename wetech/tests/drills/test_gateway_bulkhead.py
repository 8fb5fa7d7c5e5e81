"""Fault drill: Pesapal hangs while several customers press Pay at once; the pages still answer.

The real site runs under gunicorn with the production configuration (`gunicorn.conf.py`: gthread
workers), a few workers and threads, DEBUG off, on the test database, with Pesapal pointed at a
loopback server that accepts connections and never answers. While the pay requests hang, a
visitor's pages must answer as usual, and every pay request still gets the kind 503 within the
retry deadline: the bulkhead (wetech/payments/gateways/bulkhead.py) refuses the calls over its
limit at once.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import responses
from django.conf import settings as django_settings

from wetech.models import PaymentAttempt
from wetech.payments.gateways.bulkhead import Bulkhead
from wetech.tests.conftest import REPO_ROOT
from wetech.tests.drills.test_gateway_faults import UNAVAILABLE_TEXT, SilentServer, _add_token
from wetech.tests.drills.test_worker_crash import _database_url
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

Status = PaymentAttempt.Status

WORKERS = 2
THREADS = 3
LIMIT = 2  # Pesapal calls in flight per node
PAYERS = 6
# Each hanging pay request gives up after about the deadline (token call: read timeouts, retried).
DEADLINE = 5.0
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
# A page must answer well before any hanging pay request could have let go of its thread.
PAGE_SECONDS = 3.0
CSRF = "bulkheaddrill0123456789abcdefghi"  # any 32 letters and digits: cookie and header agree


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_pesapal():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def gunicorn_site(silent_pesapal, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "GUNICORN_ACCESS_LOG": str(logs / "access.log"),
        "GATEWAY_MAX_CONCURRENT_CALLS": str(LIMIT),
        "SITE_URL": base,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_DIR": str(logs),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "GATEWAY_SIMULATOR": "false",
        "PESAPAL_BASE_URL": f"http://127.0.0.1:{silent_pesapal.port}/pesapalv3",
        "PESAPAL_CONSUMER_KEY": "drill-key",
        "PESAPAL_CONSUMER_SECRET": "drill-secret",
        "PESAPAL_IPN_ID": "ipn-drill-0001",
        "GATEWAY_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "GATEWAY_READ_TIMEOUT": str(READ_TIMEOUT),
        "GATEWAY_RETRY_DEADLINE": str(DEADLINE),
        "GATEWAY_RETRY_BASE_WAIT": "0.05",
        "GATEWAY_RETRY_MAX_WAIT": "0.2",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    errors = open(logs / "gunicorn.log", "wb")  # noqa: SIM115 (closed after the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wetechnologies.wsgi"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/health/live/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None, (logs / "gunicorn.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the site did not start"
            time.sleep(0.1)
        yield base, logs
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        errors.close()


def _pay(base: str, invoice, *, as_json: bool) -> tuple[int, str, float, float]:
    """POST pay as a browser (or JSON client) would: (status, body, started, finished)."""
    headers = {"Cookie": f"csrftoken={CSRF}", "X-CSRFToken": CSRF}
    if as_json:
        headers["Accept"] = "application/json"
    started = time.monotonic()
    try:
        response = requests.post(
            f"{base}/invoices/{invoice.token}/pay/pesapal/",
            headers=headers,
            allow_redirects=False,
            timeout=(2, 60),
        )
        status, body = response.status_code, response.text
    except requests.RequestException as exc:
        status, body = None, repr(exc)
    return status, body, started, time.monotonic()


def _get(base: str, path: str) -> tuple[int | None, float, float]:
    started = time.monotonic()
    try:
        # Read timeout a little past the bound, so a page that hangs fails the drill promptly.
        status = requests.get(f"{base}{path}", timeout=(2, PAGE_SECONDS + 1)).status_code
    except requests.RequestException:
        status = None
    return status, started, time.monotonic()


@pytest.mark.slow_drill
@pytest.mark.db_independent
@pytest.mark.django_db(transaction=True)
def test_pages_answer_while_pesapal_hangs_and_customers_press_pay(gunicorn_site, silent_pesapal):
    base, logs = gunicorn_site
    invoices = [issued_invoice(email=f"payer{n}@example.co.tz") for n in range(PAYERS)]

    with ThreadPoolExecutor(max_workers=PAYERS) as pool:
        pays = [
            pool.submit(_pay, base, invoice, as_json=n % 2 == 1)
            for n, invoice in enumerate(invoices)
        ]
        # Wait until the pay requests are hanging on Pesapal.
        waiting = time.monotonic() + 10
        while len(silent_pesapal.accepted) < LIMIT and time.monotonic() < waiting:
            time.sleep(0.02)
        assert len(silent_pesapal.accepted) >= LIMIT, "the pay requests never reached Pesapal"

        pages = [
            _get(base, path) for path in ("/health/live/", "/", f"/invoices/{invoices[0].token}/")
        ]
        results = [pay.result(timeout=60) for pay in pays]

    # Every page answered, fast, while pay requests were still waiting on Pesapal.
    last_pay_done = max(finished for *_, finished in results)
    for path, (status, started, finished) in zip(
        ("/health/live/", "/", "invoice page"), pages, strict=True
    ):
        assert status == 200, f"{path} answered {status}"
        assert finished - started < PAGE_SECONDS, f"{path} took {finished - started:.1f} s"
        assert finished < last_pay_done, f"{path} was only answered after the pay requests"

    # Every pay request got the kind 503 within the retry deadline (plus one last attempt).
    bound = DEADLINE + CONNECT_TIMEOUT + READ_TIMEOUT + 2
    for n, (status, body, started, finished) in enumerate(results):
        assert status == 503, (n, status, body[:300])
        assert finished - started < bound, f"pay {n} took {finished - started:.1f} s"
        if n % 2 == 1:
            assert json.loads(body)["error"]["code"] == "gateway_unavailable"
        else:
            assert UNAVAILABLE_TEXT in body
            assert "Nothing was charged." in body

    # The calls over the limit were refused at once, without waiting on Pesapal.
    refused_fast = [r for r in results if r[3] - r[2] < 2]
    refusals = [
        line
        for line in (logs / "app.log").read_text().splitlines()
        if "pesapal bulkhead full" in line
    ]
    if django_settings.REDIS_URL:
        # One node-wide count shared by the workers through Redis: exactly LIMIT calls hung.
        assert len(refusals) == PAYERS - LIMIT, refusals
    else:
        # Local memory cache: each worker counts its own (and never gives its last thread).
        assert len(refusals) >= PAYERS - WORKERS * LIMIT, refusals
    assert len(refused_fast) >= len(refusals)

    # Each attempt closed as today's rules say: a token call that got no answer failed.
    statuses = list(PaymentAttempt.objects.values_list("status", flat=True))
    assert sorted(statuses) == [Status.FAILED] * PAYERS


# --- the pay views answer a refused call with the kind 503 ---------------------------------------


@pytest.mark.db_independent
@pytest.mark.django_db
@pytest.mark.parametrize("as_json", [False, True])
def test_a_pay_over_the_bulkhead_limit_gets_the_kind_503_and_nothing_is_sent(
    client, settings, as_json
):
    configure_gateways(settings, PESAPAL_IPN_ID="ipn-drill-0001")
    settings.PESAPAL_BASE_URL = "https://pesapal.drill/pesapalv3"
    settings.GATEWAY_MAX_CONCURRENT_CALLS = 1
    invoice = issued_invoice()
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _add_token(mock, settings.PESAPAL_BASE_URL)
        mock.post(
            f"{settings.PESAPAL_BASE_URL}/api/Transactions/SubmitOrderRequest",
            json={"order_tracking_id": "t-1", "redirect_url": "https://pay.example/t-1"},
        )
        # Another customer's call to Pesapal holds the node's only slot.
        with Bulkhead("pesapal").slot():
            response = client.post(f"/invoices/{invoice.token}/pay/pesapal/", **headers)
        assert len(mock.calls) == 0

    assert response.status_code == 503
    if as_json:
        assert response.json()["error"]["code"] == "gateway_unavailable"
    else:
        html = response.content.decode()
        assert UNAVAILABLE_TEXT in html
        assert "Nothing was charged." in html
    assert PaymentAttempt.objects.get().status == Status.FAILED
