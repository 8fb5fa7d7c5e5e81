import socket
import threading
import time
from contextlib import ExitStack

import pytest
import responses
from django.core.cache import cache

from wetech.cache import PooledRedisCache as RedisCache
from wetech.payments.gateways.base import GatewayUnavailable
from wetech.payments.gateways.bulkhead import Bulkhead
from wetech.payments.gateways.retry import CLOSED, CircuitBreaker
from wetech.payments.gateways.transport import HttpTransport

URL = "https://gateway.example/api/thing"


def _closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _hold(stack: ExitStack, bulkhead: Bulkhead, calls: int) -> None:
    for _ in range(calls):
        stack.enter_context(bulkhead.slot())


def test_a_call_over_the_limit_is_refused_at_once_and_a_freed_slot_is_taken_again():
    bulkhead = Bulkhead("pesapal", limit=2, process_limit=10)
    inside = threading.Barrier(3)
    finish = threading.Event()

    def hanging_call():
        with bulkhead.slot():
            inside.wait(timeout=5)
            finish.wait(timeout=5)

    threads = [threading.Thread(target=hanging_call) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=5)
    try:
        assert bulkhead.in_flight() == 2
        with pytest.raises(GatewayUnavailable) as refused, bulkhead.slot():
            pytest.fail("a third call ran")
        assert refused.value.gateway == "pesapal"
        assert "2 pesapal calls already in flight on this node" in str(refused.value)
    finally:
        finish.set()
        for thread in threads:
            thread.join(timeout=5)

    assert bulkhead.in_flight() == 0
    with bulkhead.slot():
        assert bulkhead.in_flight() == 1


def test_every_client_of_a_gateway_on_the_node_shares_the_slots():
    # Two instances stand for two worker processes: they meet in the shared cache.
    one_worker = Bulkhead("pesapal", limit=2, process_limit=10, node="web-1")
    other_worker = Bulkhead("pesapal", limit=2, process_limit=10, node="web-1")
    other_node = Bulkhead("pesapal", limit=2, process_limit=10, node="web-2")
    other_gateway = Bulkhead("azampay", limit=2, process_limit=10, node="web-1")

    with ExitStack() as stack:
        _hold(stack, one_worker, 2)
        with pytest.raises(GatewayUnavailable), other_worker.slot():
            pytest.fail("the node's limit was exceeded")
        with other_node.slot(), other_gateway.slot():
            assert (other_node.in_flight(), other_gateway.in_flight()) == (1, 1)
        assert other_worker.in_flight() == 2

    with other_worker.slot():
        assert one_worker.in_flight() == 1


def test_the_slot_of_a_worker_killed_mid_call_expires_by_itself():
    bulkhead = Bulkhead("pesapal", limit=1, process_limit=10, slot_seconds=1)
    # A worker that took the slot and died before it could free it.
    assert bulkhead._acquire() is not None
    with pytest.raises(GatewayUnavailable), bulkhead.slot():
        pytest.fail("the dead worker's slot was free at once")

    deadline = time.monotonic() + 5
    while bulkhead.in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)

    with bulkhead.slot():
        assert bulkhead.in_flight() == 1


def test_slots_last_longer_than_the_longest_call(settings):
    settings.GATEWAY_RETRY_DEADLINE = 8.0
    settings.GATEWAY_CONNECT_TIMEOUT = 3.05
    settings.GATEWAY_READ_TIMEOUT = 10.0
    # The deadline, plus a last attempt started just before it, plus a second.
    assert Bulkhead("pesapal").slot_seconds == 23


def test_when_the_cache_fails_each_process_still_bounds_its_calls(caplog):
    broken = RedisCache(
        f"redis://127.0.0.1:{_closed_port()}/0",
        {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}},
    )
    bulkhead = Bulkhead("pesapal", limit=2, process_limit=10, cache=broken)

    with ExitStack() as stack:
        _hold(stack, bulkhead, 2)
        with pytest.raises(GatewayUnavailable), bulkhead.slot():
            pytest.fail("no bound without the cache")
    with bulkhead.slot():
        pass

    warnings = [
        r.getMessage() for r in caplog.records if r.name == "wetech.payments.gateways.bulkhead"
    ]
    assert "pesapal bulkhead could not take a slot: cache unavailable" in warnings[0]


def test_a_process_never_gives_its_last_thread_to_gateway_calls(settings):
    settings.GUNICORN_THREADS = 3
    pesapal = Bulkhead("pesapal", limit=10)
    azampay = Bulkhead("azampay", limit=10)

    with pesapal.slot(), azampay.slot():
        for bulkhead in (pesapal, azampay):
            with pytest.raises(GatewayUnavailable) as refused, bulkhead.slot():
                pytest.fail("the worker's last thread went to a gateway")
            assert "this process already has 2 gateway calls in flight" in str(refused.value)
        # A refused call took no slot on the node.
        assert (pesapal.in_flight(), azampay.in_flight()) == (1, 1)
    with pesapal.slot(), pesapal.slot():
        pass


def test_a_limit_of_zero_turns_the_bulkhead_off():
    bulkhead = Bulkhead("pesapal", limit=0, process_limit=1)
    with ExitStack() as stack:
        _hold(stack, bulkhead, 5)


# --- in the transport, where every outbound call goes through -----------------------------------


def test_the_transport_refuses_a_call_over_the_limit_without_sending_it(settings, policy):
    settings.GATEWAY_MAX_CONCURRENT_CALLS = 1
    breaker = CircuitBreaker("pesapal")
    transport = HttpTransport(
        gateway="pesapal", connect_timeout=3.05, read_timeout=10.0, policy=policy, breaker=breaker
    )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(URL, json={"ok": True})
        # Another worker's call to Pesapal holds the node's only slot.
        with Bulkhead("pesapal").slot():
            with pytest.raises(GatewayUnavailable) as refused:
                transport.send("GET", URL, action="GetTransactionStatus", idempotent=True)
            assert len(mock.calls) == 0
        assert "pesapal is busy" in str(refused.value)
        # Refused here, it never reached Pesapal: nothing for the breaker to count.
        assert breaker.state == CLOSED
        assert cache.get("gateway-breaker:pesapal:failures") is None

        response = transport.send("GET", URL, action="GetTransactionStatus", idempotent=True)
    assert response.json() == {"ok": True}
    assert Bulkhead("pesapal").in_flight() == 0
