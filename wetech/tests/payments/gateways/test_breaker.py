import threading

import pytest

from wetech.payments.gateways.base import GatewayUnavailable
from wetech.payments.gateways.retry import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    REFUSED,
    UNSENT,
    CircuitBreaker,
    TransientFailure,
    breaker_states,
)


class WallClock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def wall():
    return WallClock()


def make(wall, name="pesapal", **options):
    return CircuitBreaker(
        name, threshold=3, reset_seconds=30, probe_seconds=15, clock=wall, **options
    )


def fail(breaker, times):
    for _ in range(times):
        breaker.record_failure()


def test_opens_after_threshold_consecutive_failures(wall):
    breaker = make(wall)

    fail(breaker, 2)
    assert breaker.state == CLOSED and breaker.allow()
    fail(breaker, 1)

    assert breaker.state == OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count(wall):
    breaker = make(wall)
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)

    assert breaker.state == CLOSED


def test_half_open_after_the_reset_time_lets_exactly_one_probe_through(wall):
    breaker = make(wall)
    fail(breaker, 3)
    wall.now += 29.9
    assert breaker.state == OPEN
    wall.now += 0.2

    assert breaker.state == HALF_OPEN
    assert breaker.allow() is True
    assert breaker.allow() is False
    assert make(wall).allow() is False  # another worker


def test_a_successful_probe_closes_the_circuit(wall):
    breaker = make(wall)
    fail(breaker, 3)
    wall.now += 31
    assert breaker.allow()

    breaker.record_success()

    assert breaker.state == CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_the_circuit_again_for_the_full_reset_time(wall):
    breaker = make(wall)
    fail(breaker, 3)
    wall.now += 31
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state == OPEN
    wall.now += 29
    assert breaker.state == OPEN
    wall.now += 2
    assert breaker.state == HALF_OPEN and breaker.allow()


def test_a_probe_that_ends_without_news_frees_the_slot(wall):
    breaker = make(wall)
    fail(breaker, 3)
    wall.now += 31
    assert breaker.allow()

    breaker.release_probe()

    assert breaker.allow()


def test_two_instances_with_the_same_name_share_state(wall):
    first, second = make(wall), make(wall)
    fail(first, 2)
    fail(second, 1)

    assert first.state == second.state == OPEN
    assert make(wall, name="azampay").state == CLOSED


def test_exactly_one_probe_among_racing_threads(wall):
    fail(make(wall), 3)
    wall.now += 31
    start = threading.Barrier(12)
    allowed = []

    def race():
        breaker = make(wall)
        start.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=race) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 1


def test_breaker_states_reports_every_gateway(settings):
    settings.GATEWAY_BREAKER_THRESHOLD = 1
    CircuitBreaker("azampay").record_failure()

    assert breaker_states() == {"pesapal": CLOSED, "azampay": OPEN}


def test_defaults_come_from_settings(settings):
    settings.GATEWAY_BREAKER_THRESHOLD = 9
    settings.GATEWAY_BREAKER_RESET_SECONDS = 12.5

    breaker = CircuitBreaker("pesapal")

    assert (breaker.threshold, breaker.reset_seconds) == (9, 12.5)


class BrokenCache:
    def __getattr__(self, name):
        def broken(*args, **kwargs):
            raise ConnectionError("redis is down")

        return broken


def test_a_broken_cache_leaves_the_breaker_out_of_the_way(wall, caplog):
    breaker = make(wall, cache=BrokenCache())

    breaker.record_failure()
    breaker.record_success()
    breaker.release_probe()

    assert breaker.state == CLOSED
    assert breaker.allow() is True
    assert "cache unavailable" in caplog.text


def test_an_open_circuit_stops_calls_before_they_go_out(policy, wall):
    breaker = make(wall)
    fail(breaker, 3)
    calls = []

    with pytest.raises(GatewayUnavailable, match="circuit is open"):
        policy.call(
            calls.append, gateway="pesapal", action="Status", idempotent=True, breaker=breaker
        )

    assert calls == []


def test_the_policy_reports_each_attempt_to_the_breaker(policy, wall):
    breaker = make(wall)

    def always_down(seconds_left):
        raise TransientFailure("connection refused", kind=UNSENT)

    with pytest.raises(GatewayUnavailable):
        policy.call(
            always_down, gateway="pesapal", action="Status", idempotent=True, breaker=breaker
        )

    # Three attempts, three failures: the threshold is reached and the circuit is open.
    assert breaker.state == OPEN


def test_a_429_during_the_probe_frees_the_probe_and_keeps_the_count(policy, wall):
    breaker = make(wall)
    fail(breaker, 3)
    wall.now += 31

    def throttled(seconds_left):
        raise TransientFailure("HTTP 429", kind=REFUSED, retry_after=5, throttled=True)

    with pytest.raises(GatewayUnavailable):
        policy.call(throttled, gateway="pesapal", action="Status", idempotent=True, breaker=breaker)

    # Not re-opened for another 30 s: the gateway answered. After its back-off, one probe again.
    assert breaker.state == HALF_OPEN
    assert breaker.backoff_remaining() == 5
    wall.now += 5
    assert breaker.backoff_remaining() is None
    assert breaker.allow() is True


def test_a_broken_cache_leaves_the_back_off_out_of_the_way(wall, caplog):
    breaker = make(wall, cache=BrokenCache())

    breaker.back_off(10)

    assert breaker.backoff_remaining() is None
    assert "cache unavailable" in caplog.text


def test_admit_answers_the_back_off_and_the_state_as_allow_and_backoff_remaining_do(wall):
    breaker = make(wall)
    assert breaker.admit() == (None, True)  # closed

    breaker.back_off(5)
    assert breaker.admit() == (5, False)

    wall.now += 6
    fail(breaker, 3)
    assert breaker.admit() == (None, False)  # open

    wall.now += 31
    assert breaker.admit() == (None, True)  # half-open: this caller is the probe
    assert breaker.admit() == (None, False)  # and nobody else until it reports
    breaker.record_success()
    assert breaker.admit() == (None, True)


def test_admit_with_a_broken_cache_lets_the_call_go(wall, caplog):
    breaker = make(wall, cache=BrokenCache())

    assert breaker.admit() == (None, True)
    assert "could not admit a call" in caplog.text


def test_a_call_admitted_then_retried_asks_the_breaker_again(policy, wall):
    breaker = CircuitBreaker("pesapal", threshold=2, reset_seconds=30, probe_seconds=15, clock=wall)
    attempts = []

    def down(seconds_left):
        attempts.append(seconds_left)
        raise TransientFailure("connection refused", kind=UNSENT)

    with pytest.raises(GatewayUnavailable, match="circuit is open"):
        policy.call(down, gateway="pesapal", action="Status", idempotent=True, breaker=breaker)

    # Two failures open the circuit; the third attempt is stopped by `allow` before it goes out.
    assert len(attempts) == 2
