"""At most one gateway status query per payment attempt at a time, and none again soon after.

Anyone can send us an IPN or a browser return for an order they know, as often as they like, and
each one used to cost a synchronous GetTransactionStatus: a few hundred repeats were a few
hundred calls, enough for the gateway to rate-limit us for every customer. Now:

- one query per attempt is in flight at a time, across every worker: a short-lived lock key taken
  with `cache.add` (when the cache raises, a per-process lock instead);
- for `GATEWAY_STATUS_COALESCE_SECONDS` after the gateway answered, repeats are answered from
  what we already know (the attempt's current state, which that answer settled) without a call;
- the reconciler and staff's "re-check now" pass `bypass_window=True`: they always ask.

A repeat that was not asked about is not lost news: the reconciler treats an attempt that got a
notification after its last check as due at once (`reconciliation.attempt_due`).
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("wetech.payments")

T = TypeVar("T")

# Used only while the cache raises: the same rules, per process.
_local_lock = threading.Lock()
_local_in_flight: set[str] = set()
_local_answered: dict[str, float] = {}


class StatusQueryCoalesced(Exception):
    """The gateway was not asked: a query is in flight, or one was answered moments ago."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _lock_seconds() -> float:
    # A query may fetch a token first, then ask: two calls, each bounded by the retry deadline.
    # A worker that dies mid-call frees the attempt when this runs out.
    return 2 * (settings.GATEWAY_RETRY_DEADLINE + settings.GATEWAY_CONNECT_TIMEOUT) + 1


def _keys(gateway: str, attempt_id: int) -> tuple[str, str]:
    base = f"payment-status:{gateway}:{attempt_id}"
    return f"{base}:in-flight", f"{base}:answered-at"


def _recent(answered_at, *, now: float, window: float) -> float | None:
    """Seconds since the last answer when it is inside the window, else None."""
    if answered_at is None or window <= 0:
        return None
    age = now - float(answered_at)
    return age if 0 <= age < window else None


def _begin_shared(in_flight_key, answered_key, *, now, window, bypass_window) -> bool:
    """Whether we hold the in-flight key. Raises StatusQueryCoalesced, or the cache's error."""
    if not bypass_window:
        age = _recent(cache.get(answered_key), now=now, window=window)
        if age is not None:
            raise StatusQueryCoalesced(f"the gateway answered {age:.0f} s ago")
    holds = bool(cache.add(in_flight_key, now, timeout=math.ceil(_lock_seconds())))
    if not holds and not bypass_window:
        raise StatusQueryCoalesced("another status query is in flight")
    return holds


def _begin_local(in_flight_key, answered_key, *, now, window, bypass_window) -> bool:
    with _local_lock:
        for key, answered_at in list(_local_answered.items()):
            if _recent(answered_at, now=now, window=window) is None:
                del _local_answered[key]
        if not bypass_window:
            age = _recent(_local_answered.get(answered_key), now=now, window=window)
            if age is not None:
                raise StatusQueryCoalesced(f"the gateway answered {age:.0f} s ago")
        if in_flight_key in _local_in_flight:
            if not bypass_window:
                raise StatusQueryCoalesced("another status query is in flight")
            return False
        _local_in_flight.add(in_flight_key)
        return True


def status_query(*, gateway: str, attempt_id: int, ask: Callable[[], T], bypass_window=False) -> T:
    """`ask()` the gateway about one attempt, unless that would repeat a query.

    Raises StatusQueryCoalesced instead of asking while another query about the attempt is in
    flight or within the window after the last answer; with `bypass_window` it always asks (and
    still holds the in-flight key when it is free, so the repeats meanwhile are coalesced).
    Whatever `ask` raises (GatewayError) passes through, and a failed query opens no window.
    """
    window = float(settings.GATEWAY_STATUS_COALESCE_SECONDS)
    in_flight_key, answered_key = _keys(gateway, attempt_id)
    options = {"now": time.time(), "window": window, "bypass_window": bypass_window}
    shared = True
    try:
        holds = _begin_shared(in_flight_key, answered_key, **options)
    except StatusQueryCoalesced:
        raise
    except Exception:
        logger.warning(
            "status query coalescing falls back to this process: cache unavailable",
            exc_info=True,
        )
        shared = False
        holds = _begin_local(in_flight_key, answered_key, **options)
    try:
        answer = ask()
        _answered(answered_key, shared=shared, window=window)
        return answer
    finally:
        if holds:
            _release(in_flight_key, shared=shared)


def forget_local_state() -> None:
    """Drop what this process remembers when the cache is down (for tests)."""
    with _local_lock:
        _local_answered.clear()
        _local_in_flight.clear()


def _answered(answered_key: str, *, shared: bool, window: float) -> None:
    if window <= 0:
        return
    now = time.time()
    if shared:
        try:
            # The time is in the value: our clock decides the window, the TTL only cleans up.
            cache.set(answered_key, now, timeout=math.ceil(window) + 1)
            return
        except Exception:
            logger.warning("status query window not shared: cache unavailable", exc_info=True)
    with _local_lock:
        _local_answered[answered_key] = now


def _release(in_flight_key: str, *, shared: bool) -> None:
    if not shared:
        with _local_lock:
            _local_in_flight.discard(in_flight_key)
        return
    try:
        cache.delete(in_flight_key)
    except Exception:
        # The key runs out on its own (`_lock_seconds`).
        logger.warning("status query lock not released: cache unavailable", exc_info=True)
