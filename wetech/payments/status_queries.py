"""At most one gateway status query per payment attempt at a time, and none again soon after.

Anyone can send us an IPN or a browser return for an order they know, as often as they like, and
each one used to cost a synchronous GetTransactionStatus: a few hundred repeats were a few
hundred calls, enough for the gateway to rate-limit us for every customer. Now:

- one query per attempt is in flight at a time, across every worker: a short-lived lock taken
  with `cache.add` (when the cache raises, a per-process lock instead);
- for `GATEWAY_STATUS_COALESCE_SECONDS` after the gateway answered, repeats are answered from
  what we already know (the attempt's current state, which that answer settled) without a call;
- the reconciler and staff's "re-check now" pass `bypass_window=True`: they always ask.

One cache key per attempt holds both the lock and the window: ("in-flight", t) while a query
runs, then ("answered", t) once the gateway answered (the same write frees the lock and opens the
window). A fresh query costs two cache round trips (take, answer), a repeat two (take refused,
read).

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


IN_FLIGHT = "in-flight"
ANSWERED = "answered"


def _key(gateway: str, attempt_id: int) -> str:
    return f"payment-status:{gateway}:{attempt_id}"


def _recent(answered_at, *, now: float, window: float) -> float | None:
    """Seconds since the last answer when it is inside the window, else None."""
    if answered_at is None or window <= 0:
        return None
    age = now - float(answered_at)
    return age if 0 <= age < window else None


def _marker(value) -> tuple[str, float] | None:
    """The key's (state, time), or None for nothing (or something this code did not write)."""
    if isinstance(value, tuple | list) and len(value) == 2 and value[0] in (IN_FLIGHT, ANSWERED):
        return value[0], float(value[1])
    return None


def _begin_shared(key, *, now, window, bypass_window) -> bool:
    """Whether we hold the attempt's lock. Raises StatusQueryCoalesced, or the cache's error."""
    lock_seconds = math.ceil(_lock_seconds())
    if cache.add(key, (IN_FLIGHT, now), timeout=lock_seconds):
        return True
    marker = _marker(cache.get(key))
    if marker is not None and marker[0] == IN_FLIGHT:
        if bypass_window:
            return False  # ask anyway; the one in flight keeps (and frees) the lock
        raise StatusQueryCoalesced("another status query is in flight")
    if marker is not None and not bypass_window:
        age = _recent(marker[1], now=now, window=window)
        if age is not None:
            raise StatusQueryCoalesced(f"the gateway answered {age:.0f} s ago")
    # An answer older than the window (the key outlives it by a second), a bypass, or the key
    # gone between our two calls: take the lock. Two callers racing here in that second may both
    # ask, as before the window existed; the settlement's row locks keep the outcome single.
    cache.set(key, (IN_FLIGHT, now), timeout=lock_seconds)
    return True


def _begin_local(key, *, now, window, bypass_window) -> bool:
    with _local_lock:
        for known, answered_at in list(_local_answered.items()):
            if _recent(answered_at, now=now, window=window) is None:
                del _local_answered[known]
        if not bypass_window:
            age = _recent(_local_answered.get(key), now=now, window=window)
            if age is not None:
                raise StatusQueryCoalesced(f"the gateway answered {age:.0f} s ago")
        if key in _local_in_flight:
            if not bypass_window:
                raise StatusQueryCoalesced("another status query is in flight")
            return False
        _local_in_flight.add(key)
        return True


def status_query(*, gateway: str, attempt_id: int, ask: Callable[[], T], bypass_window=False) -> T:
    """`ask()` the gateway about one attempt, unless that would repeat a query.

    Raises StatusQueryCoalesced instead of asking while another query about the attempt is in
    flight or within the window after the last answer; with `bypass_window` it always asks (and
    still holds the in-flight key when it is free, so the repeats meanwhile are coalesced).
    Whatever `ask` raises (GatewayError) passes through, and a failed query opens no window.
    """
    window = float(settings.GATEWAY_STATUS_COALESCE_SECONDS)
    key = _key(gateway, attempt_id)
    options = {"now": time.time(), "window": window, "bypass_window": bypass_window}
    shared = True
    try:
        holds = _begin_shared(key, **options)
    except StatusQueryCoalesced:
        raise
    except Exception:
        logger.warning(
            "status query coalescing falls back to this process: cache unavailable",
            exc_info=True,
        )
        shared = False
        holds = _begin_local(key, **options)
    try:
        answer = ask()
    except BaseException:
        if holds:
            _release(key, shared=shared)
        raise
    if not _answered(key, shared=shared, window=window) and holds:
        _release(key, shared=shared)
    return answer


def forget_local_state() -> None:
    """Drop what this process remembers when the cache is down (for tests)."""
    with _local_lock:
        _local_answered.clear()
        _local_in_flight.clear()


def _answered(key: str, *, shared: bool, window: float) -> bool:
    """Open the window after an answer; True when that also freed the shared lock."""
    if window <= 0:
        return False
    now = time.time()
    if shared:
        try:
            # The time is in the value: our clock decides the window, the TTL only cleans up.
            cache.set(key, (ANSWERED, now), timeout=math.ceil(window) + 1)
            return True
        except Exception:
            logger.warning("status query window not shared: cache unavailable", exc_info=True)
    with _local_lock:
        _local_answered[key] = now
    return False


def _release(key: str, *, shared: bool) -> None:
    if not shared:
        with _local_lock:
            _local_in_flight.discard(key)
        return
    try:
        cache.delete(key)
    except Exception:
        # The key runs out on its own (`_lock_seconds`).
        logger.warning("status query lock not released: cache unavailable", exc_info=True)
