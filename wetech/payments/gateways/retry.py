"""The retry policy and circuit breaker every gateway call goes through.

Built on tenacity: full-jitter exponential backoff capped per wait, a total deadline, and
`Retry-After` honoured up to the cap (beyond it we fail fast rather than keep a customer waiting).
Only transient failures are retried, and a call that creates something (an order, a push) is
retried only when the gateway provably did not process it. Sleep, clock and jitter are injectable
so tests run the real policy in milliseconds.

The breaker's state lives in the Django cache so every worker shares it; `breaker_states()` is
what `/health/` reads. A 429 is not an outage: it backs the gateway off (every worker's calls fail
fast until its `Retry-After` has passed) without counting toward opening the circuit.
"""

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tenacity
from django.conf import settings
from django.core.cache import cache as default_cache

from wetech.payments.gateways.base import GatewayOutcomeUnknown, GatewayUnavailable

logger = logging.getLogger("wetech.payments.gateways.retry")

GATEWAYS = ("pesapal", "azampay")

# How one attempt failed, which decides whether it may be sent again.
UNSENT = "unsent"  # the connection never opened: nothing reached the gateway
REFUSED = "refused"  # 429/503: the gateway says it did not take the request
AMBIGUOUS = "ambiguous"  # read timeout, dropped connection, 502/504: it may have been processed
SERVER_ERROR = "server_error"  # 500: the gateway broke while handling it; never retried


class TransientFailure(Exception):
    """One attempt failed in a way that says nothing about the request's merit."""

    def __init__(
        self,
        reason: str,
        *,
        kind: str,
        retry_after: float | None = None,
        throttled: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        # HTTP 429: the gateway is up but wants us slower; it backs off, it never opens the circuit.
        self.throttled = throttled

    def may_resend(self, *, idempotent: bool) -> bool:
        if self.kind in (UNSENT, REFUSED):
            return True
        return self.kind == AMBIGUOUS and idempotent

    def as_gateway_error(self, *, gateway: str, idempotent: bool) -> GatewayUnavailable:
        if not idempotent and self.kind in (AMBIGUOUS, SERVER_ERROR):
            return GatewayOutcomeUnknown(
                f"{gateway} may have processed the request: {self.reason}", gateway=gateway
            )
        return GatewayUnavailable(
            f"{gateway} is unavailable: {self.reason}",
            gateway=gateway,
            retry_after=self.retry_after,
        )


@dataclass
class RetryPolicy:
    attempts: int = 3
    base_wait: float = 0.25
    max_wait: float = 2.0
    deadline: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    @classmethod
    def from_settings(cls, **overrides) -> "RetryPolicy":
        values = {
            "attempts": settings.GATEWAY_RETRY_ATTEMPTS,
            "base_wait": settings.GATEWAY_RETRY_BASE_WAIT,
            "max_wait": settings.GATEWAY_RETRY_MAX_WAIT,
            "deadline": settings.GATEWAY_RETRY_DEADLINE,
        }
        return cls(**{**values, **overrides})

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere between 0 and base * 2^(attempt-1), capped at max_wait."""
        ceiling = min(self.max_wait, self.base_wait * 2 ** (attempt - 1))
        return self.jitter(0, ceiling)

    def call(
        self,
        operation: Callable[[float], object],
        *,
        gateway: str,
        action: str,
        idempotent: bool,
        breaker: "CircuitBreaker | None" = None,
    ):
        """Run `operation(seconds_left)` until it succeeds or the policy gives up.

        `operation` raises TransientFailure for failures worth counting against the gateway and
        returns anything else (including 4xx responses: the caller decides what they mean).
        Giving up raises GatewayUnavailable, or GatewayOutcomeUnknown when a creating call may
        have been processed.
        """
        started = self.clock()

        def seconds_left() -> float:
            return max(self.deadline - (self.clock() - started), 0.0)

        # The first attempt's admission comes with the back-off check below (one cache read).
        admitted: list[bool] = []

        def attempt():
            if breaker is not None and not (admitted.pop() if admitted else breaker.allow()):
                raise GatewayUnavailable(f"{gateway} circuit is open", gateway=gateway)
            try:
                result = operation(seconds_left())
            except TransientFailure as failure:
                if breaker is not None and failure.throttled:
                    breaker.back_off(
                        failure.retry_after if failure.retry_after is not None else self.max_wait
                    )
                    breaker.release_probe()
                elif breaker is not None:
                    breaker.record_failure()
                raise
            except BaseException:
                if breaker is not None:
                    breaker.release_probe()
                raise
            if breaker is not None:
                breaker.record_success()
            return result

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception()
            if failure.retry_after is not None:
                return failure.retry_after
            return self.backoff(state.attempt_number)

        def stop(state: tenacity.RetryCallState) -> bool:
            return (
                state.attempt_number >= self.attempts
                # Only a Retry-After can exceed the cap: the gateway wants longer than a page waits.
                or state.upcoming_sleep > self.max_wait
                or self.clock() - started + state.upcoming_sleep >= self.deadline
            )

        def log_retry(state: tenacity.RetryCallState) -> None:
            failure = state.outcome.exception()
            logger.warning(
                "%s %s attempt %d failed (%s); retrying in %.2f s",
                gateway,
                action,
                state.attempt_number,
                failure.reason,
                state.upcoming_sleep,
                extra={
                    "gateway": gateway,
                    "action": action,
                    "attempt": state.attempt_number,
                    "wait_seconds": round(state.upcoming_sleep, 3),
                    "reason": failure.reason,
                },
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(
                lambda exc: (
                    isinstance(exc, TransientFailure) and exc.may_resend(idempotent=idempotent)
                )
            ),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        if breaker is not None:
            # Checked once per call: the call's own retries wait as the policy (and Retry-After,
            # up to the cap) says; every other call fails fast until the back-off has passed.
            backing_off, allowed = breaker.admit()
            admitted.append(allowed)
            if backing_off is not None:
                raise GatewayUnavailable(
                    f"{gateway} asked us to slow down (HTTP 429)",
                    gateway=gateway,
                    retry_after=backing_off,
                )
        try:
            return retrying(attempt)
        except TransientFailure as failure:
            logger.warning(
                "%s %s gave up: %s",
                gateway,
                action,
                failure.reason,
                extra={"gateway": gateway, "action": action, "reason": failure.reason},
            )
            raise failure.as_gateway_error(gateway=gateway, idempotent=idempotent) from failure


CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed, open after `threshold` consecutive transient failures, half-open after
    `reset_seconds` (one probe at a time), closed again on a success.

    It also holds the gateway's back-off after an HTTP 429 (`back_off`, `backoff_remaining`): at
    most `reset_seconds` long, and a 429 never counts as a failure.

    Two instances with the same name share their state through the cache. If the cache itself
    fails, the breaker stays out of the way (closed): it must never be why a payment fails.
    """

    def __init__(
        self,
        name: str,
        *,
        threshold: int | None = None,
        reset_seconds: float | None = None,
        probe_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        cache=None,
    ):
        self.name = name
        self.threshold = threshold if threshold is not None else settings.GATEWAY_BREAKER_THRESHOLD
        self.reset_seconds = (
            reset_seconds if reset_seconds is not None else settings.GATEWAY_BREAKER_RESET_SECONDS
        )
        # A probe that died without reporting must not hold the circuit half-open forever.
        self.probe_seconds = (
            probe_seconds
            if probe_seconds is not None
            else settings.GATEWAY_CONNECT_TIMEOUT + settings.GATEWAY_READ_TIMEOUT + 1
        )
        self.clock = clock
        self.cache = cache or default_cache
        self._failures_key = f"gateway-breaker:{name}:failures"
        self._opened_key = f"gateway-breaker:{name}:opened-at"
        self._probe_key = f"gateway-breaker:{name}:probe"
        self._backoff_key = f"gateway-breaker:{name}:backoff-until"

    def __repr__(self):
        return f"CircuitBreaker({self.name!r})"

    def _state_from(self, opened_at) -> str:
        if opened_at is None:
            return CLOSED
        if self.clock() - float(opened_at) < self.reset_seconds:
            return OPEN
        return HALF_OPEN

    @property
    def state(self) -> str:
        try:
            return self._state_from(self.cache.get(self._opened_key))
        except Exception:
            self._cache_trouble("read state")
            return CLOSED

    def allow(self) -> bool:
        """May a call go out now? In half-open, exactly one caller gets True until it reports."""
        try:
            state = self._state_from(self.cache.get(self._opened_key))
            if state == CLOSED:
                return True
            if state == OPEN:
                return False
            return bool(self.cache.add(self._probe_key, self.clock(), timeout=self.probe_seconds))
        except Exception:
            self._cache_trouble("allow")
            return True

    def admit(self) -> tuple[float | None, bool]:
        """`backoff_remaining()` and, when no back-off holds, `allow()`, in one cache read for
        the usual case (closed, no back-off): what every call asks before its first attempt."""
        try:
            recorded = self.cache.get_many([self._opened_key, self._backoff_key])
        except Exception:
            self._cache_trouble("admit a call")
            return None, True
        remaining = self._remaining(recorded.get(self._backoff_key))
        if remaining is not None:
            return remaining, False
        state = self._state_from(recorded.get(self._opened_key))
        if state == CLOSED:
            return None, True
        if state == OPEN:
            return None, False
        return None, self.allow()  # half-open: the probe is taken as `allow` takes it

    def record_success(self) -> None:
        try:
            # Nearly every call succeeds with nothing recorded: one read, and no write.
            recorded = self.cache.get_many([self._failures_key, self._opened_key])
            if not recorded:
                return
            was_open = self._opened_key in recorded
            self.cache.delete_many([self._failures_key, self._opened_key, self._probe_key])
        except Exception:
            self._cache_trouble("record success")
            return
        if was_open:
            logger.info("%s circuit closed", self.name, extra={"gateway": self.name})

    def record_failure(self) -> None:
        try:
            state = self._state_from(self.cache.get(self._opened_key))
            if state == HALF_OPEN:
                self.cache.set(self._opened_key, self.clock(), timeout=None)
                self.cache.delete(self._probe_key)
                logger.warning(
                    "%s circuit re-opened: the probe failed",
                    self.name,
                    extra={"gateway": self.name},
                )
                return
            self.cache.add(self._failures_key, 0, timeout=None)
            failures = self.cache.incr(self._failures_key)
            if failures >= self.threshold and self.cache.add(
                self._opened_key, self.clock(), timeout=None
            ):
                logger.error(
                    "%s circuit opened after %d consecutive failures",
                    self.name,
                    failures,
                    extra={"gateway": self.name, "failures": failures},
                )
        except Exception:
            self._cache_trouble("record failure")

    def back_off(self, seconds: float) -> None:
        """The gateway answered 429: calls fail fast for `seconds` (at most `reset_seconds`)."""
        seconds = min(max(float(seconds), 0.0), self.reset_seconds)
        if seconds <= 0:
            return
        until = self.clock() + seconds
        try:
            current = self.cache.get(self._backoff_key)
            if current is not None and float(current) >= until:
                return
            # The end time is in the value: our clock decides, the TTL only cleans up.
            self.cache.set(self._backoff_key, until, timeout=math.ceil(seconds) + 1)
        except Exception:
            self._cache_trouble("back off")
            return
        logger.warning(
            "%s asked us to slow down (HTTP 429): its calls fail fast for %.1f s",
            self.name,
            seconds,
            extra={"gateway": self.name, "backoff_seconds": round(seconds, 3)},
        )

    def backoff_remaining(self) -> float | None:
        """Seconds left of a 429 back-off, or None when calls may go out."""
        try:
            until = self.cache.get(self._backoff_key)
        except Exception:
            self._cache_trouble("read the back-off")
            return None
        return self._remaining(until)

    def _remaining(self, until) -> float | None:
        if until is None:
            return None
        remaining = float(until) - self.clock()
        return remaining if remaining > 0 else None

    def release_probe(self) -> None:
        """The probe ended without telling us anything about the gateway: let another try."""
        try:
            self.cache.delete(self._probe_key)
        except Exception:
            self._cache_trouble("release probe")

    def _cache_trouble(self, what: str) -> None:
        logger.warning(
            "%s circuit breaker could not %s: cache unavailable",
            self.name,
            what,
            exc_info=True,
            extra={"gateway": self.name},
        )


def breaker_states() -> dict[str, str]:
    """Each gateway's circuit state: "closed", "open" or "half_open" (for /health/)."""
    return {name: CircuitBreaker(name).state for name in GATEWAYS}
