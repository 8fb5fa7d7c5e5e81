import logging

import pytest

from wetech.payments.gateways.base import GatewayOutcomeUnknown, GatewayUnavailable
from wetech.payments.gateways.retry import (
    AMBIGUOUS,
    REFUSED,
    SERVER_ERROR,
    UNSENT,
    RetryPolicy,
    TransientFailure,
)


class Flaky:
    """An operation that fails with the given failures, then returns "ok"."""

    def __init__(self, *failures, fake_time=None, takes=0.0):
        self.failures = list(failures)
        self.calls = 0
        self.seconds_left = []
        self.fake_time = fake_time
        self.takes = takes

    def __call__(self, seconds_left):
        self.calls += 1
        self.seconds_left.append(seconds_left)
        if self.fake_time is not None:
            self.fake_time.now += self.takes
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def unsent():
    return TransientFailure("connection refused", kind=UNSENT)


def test_backoff_doubles_from_the_base_wait(policy, fake_time):
    policy.attempts = 4
    operation = Flaky(unsent(), unsent(), unsent())

    assert policy.call(operation, gateway="pesapal", action="Test", idempotent=True) == "ok"

    assert operation.calls == 4
    assert fake_time.sleeps == [0.25, 0.5, 1.0]


def test_each_wait_is_capped(fake_time):
    policy = RetryPolicy(
        attempts=5,
        base_wait=0.5,
        max_wait=1.0,
        deadline=60,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda low, high: high,
    )
    operation = Flaky(unsent(), unsent(), unsent(), unsent())

    policy.call(operation, gateway="pesapal", action="Test", idempotent=True)

    assert fake_time.sleeps == [0.5, 1.0, 1.0, 1.0]


def test_jitter_is_full_jitter_between_zero_and_the_ceiling(fake_time):
    windows = []

    def jitter(low, high):
        windows.append((low, high))
        return high / 2

    policy = RetryPolicy(
        attempts=3,
        base_wait=0.25,
        max_wait=2.0,
        deadline=8,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=jitter,
    )
    policy.call(Flaky(unsent(), unsent()), gateway="pesapal", action="Test", idempotent=True)

    assert windows == [(0, 0.25), (0, 0.5)]
    assert fake_time.sleeps == [0.125, 0.25]


def test_gives_up_after_the_last_attempt(policy, fake_time):
    operation = Flaky(unsent(), unsent(), unsent(), unsent())

    with pytest.raises(GatewayUnavailable) as caught:
        policy.call(operation, gateway="pesapal", action="Test", idempotent=True)

    assert operation.calls == 3
    assert not isinstance(caught.value, GatewayOutcomeUnknown)
    assert caught.value.gateway == "pesapal"


def test_the_deadline_stops_retries_that_would_overrun_it(fake_time):
    policy = RetryPolicy(
        attempts=10,
        base_wait=0.25,
        max_wait=2.0,
        deadline=3.0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda low, high: high,
    )
    operation = Flaky(*[unsent() for _ in range(10)], fake_time=fake_time, takes=1.0)

    with pytest.raises(GatewayUnavailable):
        policy.call(operation, gateway="pesapal", action="Test", idempotent=True)

    # Attempts take 1 s: 1 + 0.25 + 1 + 0.5 + 1 = 3.75 s; no wait may start past the 3 s deadline,
    # and each attempt is told how long is left (the transport shortens its read timeout).
    assert operation.calls == 3
    assert fake_time.sleeps == [0.25, 0.5]
    assert operation.seconds_left == [3.0, 1.75, 0.25]


def test_retry_after_is_honoured_up_to_the_cap(policy, fake_time):
    operation = Flaky(TransientFailure("HTTP 429", kind=REFUSED, retry_after=1.5))

    assert policy.call(operation, gateway="azampay", action="Test", idempotent=False) == "ok"

    assert fake_time.sleeps == [1.5]


def test_retry_after_beyond_the_cap_fails_fast(policy, fake_time):
    operation = Flaky(TransientFailure("HTTP 503", kind=REFUSED, retry_after=30))

    with pytest.raises(GatewayUnavailable) as caught:
        policy.call(operation, gateway="azampay", action="Test", idempotent=True)

    assert operation.calls == 1
    assert fake_time.sleeps == []
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("kind", [AMBIGUOUS, SERVER_ERROR])
def test_a_creating_call_is_not_resent_after_an_ambiguous_failure(policy, fake_time, kind):
    operation = Flaky(TransientFailure("read timeout", kind=kind))

    with pytest.raises(GatewayOutcomeUnknown):
        policy.call(operation, gateway="pesapal", action="Submit", idempotent=False)

    assert operation.calls == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("kind", [UNSENT, REFUSED])
def test_a_creating_call_is_resent_when_it_provably_was_not_processed(policy, kind):
    operation = Flaky(TransientFailure("nope", kind=kind))

    assert policy.call(operation, gateway="pesapal", action="Submit", idempotent=False) == "ok"
    assert operation.calls == 2


def test_an_idempotent_call_is_resent_after_an_ambiguous_failure(policy):
    operation = Flaky(TransientFailure("read timeout", kind=AMBIGUOUS))

    assert policy.call(operation, gateway="pesapal", action="Status", idempotent=True) == "ok"
    assert operation.calls == 2


def test_a_server_error_is_never_retried_and_reads_as_unavailable_for_a_query(policy):
    operation = Flaky(TransientFailure("HTTP 500", kind=SERVER_ERROR))

    with pytest.raises(GatewayUnavailable) as caught:
        policy.call(operation, gateway="pesapal", action="Status", idempotent=True)

    assert operation.calls == 1
    assert not isinstance(caught.value, GatewayOutcomeUnknown)


def test_other_exceptions_pass_through_untouched(policy):
    operation = Flaky(KeyError("bug"))

    with pytest.raises(KeyError):
        policy.call(operation, gateway="pesapal", action="Test", idempotent=True)
    assert operation.calls == 1


def test_each_retry_is_logged_with_attempt_wait_and_reason(policy, caplog):
    operation = Flaky(unsent(), TransientFailure("HTTP 503", kind=REFUSED))

    with caplog.at_level(logging.WARNING, logger="wetech.payments.gateways.retry"):
        policy.call(operation, gateway="pesapal", action="Status", idempotent=True)

    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [(r.attempt, r.wait_seconds, r.reason) for r in retries] == [
        (1, 0.25, "connection refused"),
        (2, 0.5, "HTTP 503"),
    ]
    assert all(r.gateway == "pesapal" and r.action == "Status" for r in retries)


def test_policy_defaults_come_from_settings(settings):
    settings.GATEWAY_RETRY_ATTEMPTS = 7
    settings.GATEWAY_RETRY_BASE_WAIT = 0.1
    settings.GATEWAY_RETRY_MAX_WAIT = 1.5
    settings.GATEWAY_RETRY_DEADLINE = 4.0

    policy = RetryPolicy.from_settings()

    assert (policy.attempts, policy.base_wait, policy.max_wait, policy.deadline) == (
        7,
        0.1,
        1.5,
        4.0,
    )
