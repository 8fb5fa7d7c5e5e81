import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from wetech.payments.gateways.azampay import AzamPayClient
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.payments.gateways.pesapal import PesapalClient
from wetech.payments.gateways.retry import RetryPolicy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PESAPAL_BASE = "https://cybqa.pesapal.com/pesapalv3"
AZAMPAY_AUTH = "https://authenticator-sandbox.azampay.co.tz"
AZAMPAY_CHECKOUT = "https://sandbox.azampay.co.tz"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_json(name: str):
    return json.loads(fixture_text(name))


class FakeTime:
    """A monotonic clock that only moves when the policy sleeps (or a test says so)."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def policy(fake_time):
    """The real policy with the default numbers, no jitter (always the ceiling), fake time."""
    return RetryPolicy(
        attempts=3,
        base_wait=0.25,
        max_wait=2.0,
        deadline=8.0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda low, high: high,
    )


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def pesapal(policy):
    return PesapalClient(
        base_url=PESAPAL_BASE,
        consumer_key="test-consumer-key",
        consumer_secret="test-consumer-secret",
        connect_timeout=3.05,
        read_timeout=10.0,
        policy=policy,
    )


@pytest.fixture
def azampay(policy):
    return AzamPayClient(
        auth_url=AZAMPAY_AUTH,
        checkout_url=AZAMPAY_CHECKOUT,
        app_name="wetech",
        client_id="test-client-id",
        client_secret="test-client-secret",
        api_key="test-api-key",
        status_query=True,
        request_origin="https://wetech.example",
        policy=policy,
    )


def add_pesapal_token(http, fixture="pesapal/request_token.json"):
    return http.post(
        f"{PESAPAL_BASE}/api/Auth/RequestToken",
        body=fixture_text(fixture),
        content_type="application/json",
    )


def add_azampay_token(http, fixture="azampay/token.json", status=200):
    return http.post(
        f"{AZAMPAY_AUTH}/AppRegistration/GenerateToken",
        body=fixture_text(fixture),
        status=status,
        content_type="application/json",
    )


@pytest.fixture(autouse=True)
def _fresh_clients():
    reset_gateway_clients()
    yield
    reset_gateway_clients()


class CapturedRequest:
    def __init__(self, method, path, query, body, headers):
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class CaptureServer:
    """A loopback HTTP server that records every request (stands in for our IPN/callback URLs)."""

    def __init__(self):
        self.requests: Queue[CapturedRequest] = Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                outer.requests.put(
                    CapturedRequest(
                        self.command,
                        parts.path,
                        {k: v[0] for k, v in parse_qs(parts.query).items()},
                        body,
                        dict(self.headers),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": 200}')

            do_GET = do_POST = _record

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def next(self, timeout: float = 10.0) -> CapturedRequest:
        try:
            return self.requests.get(timeout=timeout)
        except Empty:
            raise AssertionError("nothing arrived at the capture server") from None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    server = CaptureServer()
    yield server
    server.close()
