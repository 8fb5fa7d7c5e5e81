"""Fault drills: Pesapal answering 503, hanging, refusing connections, as a paying customer sees it.

These run the real client, transport, retry policy and circuit breaker (no fake gateway client):
only the network is faked, with `responses` or with sockets on loopback.
"""

import json
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from wetech.models import PaymentAttempt
from wetech.ops.worker import worker_heartbeat_record
from wetech.payments.gateways.retry import CLOSED, OPEN, CircuitBreaker
from wetech.tests.payment_helpers import configure_gateways, issued_invoice

Status = PaymentAttempt.Status
pytestmark = [pytest.mark.django_db, pytest.mark.db_independent]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UNAVAILABLE_TEXT = "We cannot reach Pesapal right now, so no payment was started."


@pytest.fixture
def invoice():
    return issued_invoice()


def fixture_json(name: str):
    return json.loads((FIXTURES / name).read_text())


def _point_pesapal_at(settings, base_url: str, **overrides) -> str:
    """Pesapal (only) at `base_url`, with a fixed IPN id so no registration call is made."""
    configure_gateways(settings, PESAPAL_IPN_ID="ipn-drill-0001")
    settings.PESAPAL_BASE_URL = f"{base_url}/pesapalv3"
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings.PESAPAL_BASE_URL


def _pay(client, invoice):
    return client.post(f"/invoices/{invoice.token}/pay/pesapal/")


def _add_token(mock, base):
    mock.post(f"{base}/api/Auth/RequestToken", json=fixture_json("pesapal/request_token.json"))


def _order_answer(request):
    """Pesapal's SubmitOrderRequest answer for the order actually sent."""
    sent = json.loads(request.body)
    body = fixture_json("pesapal/submit_order.json")
    body["merchant_reference"] = sent["id"]
    return 200, {}, json.dumps(body)


def _order_calls(mock) -> list:
    return [call for call in mock.calls if call.request.url.endswith("/SubmitOrderRequest")]


# --- 1. 503, 503, then 200 ------------------------------------------------------------------------


def test_503_twice_then_the_payment_starts_after_retries(client, settings, invoice):
    base = _point_pesapal_at(
        settings,
        "https://pesapal.drill",
        GATEWAY_RETRY_ATTEMPTS=3,
        GATEWAY_RETRY_BASE_WAIT=0.001,
        GATEWAY_RETRY_MAX_WAIT=0.005,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        _add_token(mock, base)
        order_url = f"{base}/api/Transactions/SubmitOrderRequest"
        mock.post(order_url, status=503, json={"message": "busy"})
        mock.post(order_url, status=503, json={"message": "busy"})
        mock.add_callback(responses.POST, order_url, callback=_order_answer)
        response = _pay(client, invoice)
        order_calls = _order_calls(mock)

    attempt = PaymentAttempt.objects.get()
    assert response.status_code == 303
    assert response["Location"] == attempt.redirect_url
    assert attempt.redirect_url == fixture_json("pesapal/submit_order.json")["redirect_url"]
    assert attempt.status == Status.PENDING
    assert len(order_calls) == 3
    # The same order each time: a 503 says Pesapal did not take it, so resending is safe.
    assert {json.loads(call.request.body)["id"] for call in order_calls} == {
        attempt.merchant_reference
    }
    assert CircuitBreaker("pesapal").state == CLOSED


# --- 2. a gateway that accepts the connection and never answers ----------------------------------


class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.slow_drill
@pytest.mark.parametrize("hangs", ["token", "order"])
def test_a_hanging_gateway_gets_the_kind_503_page_within_the_deadline(
    client, settings, invoice, silent_server, hangs
):
    base = _point_pesapal_at(
        settings,
        f"http://127.0.0.1:{silent_server.port}",
        GATEWAY_CONNECT_TIMEOUT=0.5,
        GATEWAY_READ_TIMEOUT=0.5,
        GATEWAY_RETRY_DEADLINE=1.5,
        GATEWAY_RETRY_BASE_WAIT=0.05,
        GATEWAY_RETRY_MAX_WAIT=0.2,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(f"http://127.0.0.1:{silent_server.port}")
        if hangs == "order":
            _add_token(mock, base)
        started = time.monotonic()
        response = _pay(client, invoice)
        elapsed = time.monotonic() - started

    html = response.content.decode()
    assert response.status_code == 503
    assert UNAVAILABLE_TEXT in html
    assert "Nothing was charged." in html
    assert invoice.number in html
    assert silent_server.accepted, "the request never reached the silent server"
    # The retry deadline (1.5 s) plus one read timeout, with a wide margin for a busy machine.
    assert elapsed < 5
    attempt = PaymentAttempt.objects.get()
    assert attempt.status != Status.INITIATED
    # A creating call that timed out may have been taken, so that order is written off
    # (expired) rather than failed; a token call that never got an answer is plainly failed.
    assert attempt.status == (Status.EXPIRED if hangs == "order" else Status.FAILED)


# --- 3. refused connections open the breaker; one probe later closes it -------------------------


def _closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _circuit(client, name="pesapal") -> tuple[int, dict]:
    response = client.get("/health/")
    return response.status_code, json.loads(response.content)["checks"][f"{name}:circuit"][0]


# Committed, so /health/'s checks (on connections of their own) see the worker's heartbeat: the
# report's status is then the breaker's doing alone.
@pytest.mark.django_db(transaction=True)
def test_refused_connections_open_the_breaker_and_one_probe_closes_it(
    client, settings, invoice, tmp_path, time_machine
):
    settings.LOG_DIR = tmp_path / "logs"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.LOG_DIR.mkdir()
    settings.BACKUP_DIR.mkdir()
    time_machine.move_to(timezone.now(), tick=True)
    worker_heartbeat_record(name="worker1:100")
    base = _point_pesapal_at(
        settings,
        f"http://127.0.0.1:{_closed_port()}",
        # One try per click, so each failed click is one failure on the breaker's count.
        GATEWAY_RETRY_ATTEMPTS=1,
        GATEWAY_BREAKER_THRESHOLD=3,
        GATEWAY_BREAKER_RESET_SECONDS=30,
    )
    breaker = CircuitBreaker("pesapal")

    for click in range(1, 4):
        response = _pay(client, invoice)
        assert response.status_code == 503
        assert UNAVAILABLE_TEXT in response.content.decode()
        assert breaker.state == (OPEN if click == 3 else CLOSED)

    # Open: the next click is answered without any connection attempt.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        response = _pay(client, invoice)
        assert len(mock.calls) == 0
    assert response.status_code == 503
    assert UNAVAILABLE_TEXT in response.content.decode()
    status, circuit = _circuit(client)
    assert status == 200
    assert (circuit["status"], circuit["observedValue"]) == ("warn", "open")
    assert not PaymentAttempt.objects.filter(status=Status.INITIATED).exists()
    assert PaymentAttempt.objects.filter(status=Status.FAILED).count() == 4

    # After the reset time, one probe goes through to a gateway that works again.
    time_machine.shift(timedelta(seconds=31))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        _add_token(mock, base)
        mock.add_callback(
            responses.POST, f"{base}/api/Transactions/SubmitOrderRequest", callback=_order_answer
        )
        response = _pay(client, invoice)
    assert response.status_code == 303
    assert breaker.state == CLOSED
    status, circuit = _circuit(client)
    assert status == 200
    assert (circuit["status"], circuit["observedValue"]) == ("pass", "closed")
    assert PaymentAttempt.objects.get(status=Status.PENDING).redirect_url == response["Location"]
