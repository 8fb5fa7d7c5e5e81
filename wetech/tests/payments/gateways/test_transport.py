import socket

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from wetech.payments.gateways.base import (
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
)
from wetech.payments.gateways.retry import CLOSED, OPEN, CircuitBreaker
from wetech.payments.gateways.transport import HttpTransport, retry_after_seconds
from wetech.request_context import reset_request_id, set_request_id

URL = "https://gateway.example/api/thing"


@pytest.fixture
def transport(policy):
    return HttpTransport(
        gateway="pesapal", connect_timeout=3.05, read_timeout=10.0, policy=policy, breaker=None
    )


def refused():
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL, reason))


def dropped():
    return requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


def test_sends_explicit_timeouts_and_the_request_id(http, transport):
    http.get(URL, json={"ok": True})
    token = set_request_id("req-123")
    try:
        transport.send("GET", URL, action="Thing", idempotent=True)
    finally:
        reset_request_id(token)

    request = http.calls[0].request
    assert request.headers["X-Request-ID"] == "req-123"
    assert request.headers["Accept"] == "application/json"
    assert request.req_kwargs["timeout"] == (3.05, 8.0)  # read capped by the 8 s deadline


def test_no_request_id_header_outside_a_request(http, transport):
    http.get(URL, json={"ok": True})

    transport.send("GET", URL, action="Thing", idempotent=True)

    assert "X-Request-ID" not in http.calls[0].request.headers


def test_uses_one_session_for_every_call(http, transport):
    http.get(URL, json={})
    http.get(URL, json={})
    session = transport.session

    transport.send("GET", URL, action="Thing", idempotent=True)
    transport.send("GET", URL, action="Thing", idempotent=True)

    assert transport.session is session


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_4xx_is_returned_without_retry(http, transport, status):
    http.post(URL, json={"error": "no"}, status=status)

    response = transport.send("POST", URL, action="Thing", idempotent=False)

    assert response.status_code == status
    assert len(http.calls) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_creating_post_is_resent_after_429_or_503(http, transport, fake_time, status):
    http.post(URL, status=status, headers={"Retry-After": "1"})
    http.post(URL, json={"ok": True})

    response = transport.send("POST", URL, action="Submit", idempotent=False)

    assert response.status_code == 200
    assert len(http.calls) == 2
    assert fake_time.sleeps == [1.0]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_creating_post_is_not_resent_after_500_502_504(http, transport, status):
    http.post(URL, status=status, body="<html>Bad gateway</html>")

    with pytest.raises(GatewayOutcomeUnknown):
        transport.send("POST", URL, action="Submit", idempotent=False)

    assert len(http.calls) == 1


def test_a_creating_post_is_not_resent_after_a_read_timeout(http, transport):
    http.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(GatewayOutcomeUnknown, match="read timeout"):
        transport.send("POST", URL, action="Submit", idempotent=False)

    assert len(http.calls) == 1


def test_a_creating_post_is_not_resent_after_a_dropped_connection(http, transport):
    http.post(URL, body=dropped())

    with pytest.raises(GatewayOutcomeUnknown, match="connection dropped"):
        transport.send("POST", URL, action="Submit", idempotent=False)


def test_a_creating_post_is_resent_when_the_connection_was_refused(http, transport):
    http.post(URL, body=refused())
    http.post(URL, json={"ok": True})

    assert transport.send("POST", URL, action="Submit", idempotent=False).status_code == 200
    assert len(http.calls) == 2


def test_a_query_is_retried_after_timeouts_and_502(http, transport, fake_time):
    http.get(URL, body=requests.exceptions.ReadTimeout())
    http.get(URL, status=502)
    http.get(URL, json={"ok": True})

    assert transport.send("GET", URL, action="Status", idempotent=True).status_code == 200
    assert fake_time.sleeps == [0.25, 0.5]


def test_a_query_gives_up_as_unavailable(http, transport):
    for _ in range(3):
        http.get(URL, status=504)

    with pytest.raises(GatewayUnavailable) as caught:
        transport.send("GET", URL, action="Status", idempotent=True)

    assert not isinstance(caught.value, GatewayOutcomeUnknown)


def test_a_500_carrying_the_gateways_own_answer_is_returned(http, policy):
    transport = HttpTransport(
        gateway="pesapal",
        connect_timeout=1,
        read_timeout=1,
        policy=policy,
        breaker=None,
        answered_by_gateway=lambda response: response.headers.get("Content-Type", "").startswith(
            "application/json"
        ),
    )
    http.post(URL, status=500, json={"error": {"code": "x"}})

    assert transport.send("POST", URL, action="Submit", idempotent=False).status_code == 500


def test_a_real_refused_connection_counts_as_never_sent(policy, fake_time):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = HttpTransport(
        gateway="pesapal", connect_timeout=1, read_timeout=1, policy=policy, breaker=None
    )

    with responses.RequestsMock() as mock:
        mock.add_passthru("http://127.0.0.1")
        with pytest.raises(GatewayUnavailable) as caught:
            transport.send("POST", f"http://127.0.0.1:{port}/x", action="Submit", idempotent=False)

    # Refused is "never sent": a creating POST was tried all three times and is not "unknown".
    assert not isinstance(caught.value, GatewayOutcomeUnknown)
    assert len(fake_time.sleeps) == 2


def test_a_bad_url_is_misconfiguration(transport):
    with pytest.raises(GatewayMisconfigured):
        transport.send("GET", "not a url", action="Status", idempotent=True)


def test_retry_after_accepts_seconds_and_http_dates(time_machine):
    time_machine.move_to("2026-03-02 10:00:00Z", tick=False)

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Mon, 02 Mar 2026 10:00:05 GMT") == 5.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- HTTP 429: back the gateway off, never open the circuit (issue 10) -----------------------


class Wall:
    """The breaker's wall clock (shared by workers through the cache), moved by hand."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def _throttled_transport(policy, wall):
    breaker = CircuitBreaker("pesapal", threshold=3, reset_seconds=30, probe_seconds=15, clock=wall)
    return HttpTransport(
        gateway="pesapal", connect_timeout=1, read_timeout=1, policy=policy, breaker=breaker
    )


def test_429s_back_off_without_opening_the_circuit(http, policy):
    wall = Wall()
    transport = _throttled_transport(policy, wall)
    for _ in range(6):
        http.get(URL, status=429, headers={"Retry-After": "10"})

    # Six throttled calls, each after the previous back-off ran out: twice the threshold.
    for _ in range(6):
        with pytest.raises(GatewayUnavailable) as caught:
            transport.send("GET", URL, action="Status", idempotent=True)
        assert caught.value.retry_after == 10
        wall.now += 10

    assert len(http.calls) == 6
    assert transport.breaker.state == CLOSED
    assert transport.breaker.allow()


def test_while_backing_off_every_worker_fails_fast_without_calling(http, policy, caplog):
    wall = Wall()
    first, other_worker = _throttled_transport(policy, wall), _throttled_transport(policy, wall)
    http.get(URL, status=429, headers={"Retry-After": "10"})
    http.get(URL, json={"ok": True})
    with pytest.raises(GatewayUnavailable):
        first.send("GET", URL, action="Status", idempotent=True)
    assert "pesapal asked us to slow down (HTTP 429)" in caplog.text

    wall.now += 4
    with pytest.raises(GatewayUnavailable, match="slow down") as caught:
        other_worker.send("GET", URL, action="Status", idempotent=True)
    assert caught.value.retry_after == pytest.approx(6)
    assert len(http.calls) == 1  # nothing went out

    wall.now += 6
    assert other_worker.send("GET", URL, action="Status", idempotent=True).status_code == 200
    assert len(http.calls) == 2


def test_a_429_retry_after_is_honoured_up_to_the_breaker_reset_time(http, policy):
    wall = Wall()
    transport = _throttled_transport(policy, wall)
    http.get(URL, status=429, headers={"Retry-After": "86400"})

    with pytest.raises(GatewayUnavailable) as caught:
        transport.send("GET", URL, action="Status", idempotent=True)

    # The caller hears what the gateway said; the gateway is off for at most reset_seconds.
    assert caught.value.retry_after == 86400
    assert transport.breaker.backoff_remaining() == 30


def test_503s_still_open_the_circuit(http, policy):
    wall = Wall()
    transport = _throttled_transport(policy, wall)
    for _ in range(3):
        http.get(URL, status=503, headers={"Retry-After": "10"})

    for _ in range(3):
        with pytest.raises(GatewayUnavailable):
            transport.send("GET", URL, action="Status", idempotent=True)

    assert transport.breaker.state == OPEN
    assert transport.breaker.backoff_remaining() is None
