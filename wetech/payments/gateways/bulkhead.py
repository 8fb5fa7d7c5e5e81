"""The bulkhead: at most `GATEWAY_MAX_CONCURRENT_CALLS` calls to one gateway at once per node.

While a gateway hangs, each call to it holds a gunicorn thread for up to the retry deadline. With
no bound, a handful of customers pressing Pay would hold every thread of every worker and no page
of the site would answer. The bulkhead counts each gateway's calls in flight across all of a
node's worker processes and refuses a call over the limit at once with `GatewayUnavailable`
(the pay views answer it with the kind 503 page; an IPN is acknowledged with "try again").

The count lives in the shared cache as `limit` slots per gateway and host name: a call takes a
free slot with an atomic `add` and deletes it when it ends. A slot also expires by itself after
the longest a call can last, so a worker killed in the middle of a call cannot keep it for ever.
When the cache fails, each process falls back to a `threading.BoundedSemaphore` of the same size:
a bound per process instead of per node, never none.

A node-wide bound alone is not enough: a gthread worker keeps accepting connections while all
its threads are busy and queues them behind those threads, so a worker that happened to take
every slot would leave the pages it accepted waiting. So one process also never gives its last
thread to gateway calls: all gateways together get at most `GUNICORN_THREADS - 1` of its threads.
"""

import logging
import math
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache as default_cache

from wetech.payments.gateways.base import GatewayUnavailable

logger = logging.getLogger("wetech.payments.gateways.bulkhead")

# Key "*": this process's share of its threads for all gateways together.
PROCESS_SHARE = "*"

_local_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_local_lock = threading.Lock()


def _local_semaphore(name: str, limit: int) -> threading.BoundedSemaphore:
    """This process's semaphore for `name` (a gateway's fallback, or PROCESS_SHARE) and size."""
    with _local_lock:
        semaphore = _local_semaphores.get((name, limit))
        if semaphore is None:
            semaphore = _local_semaphores[(name, limit)] = threading.BoundedSemaphore(limit)
        return semaphore


def process_share() -> int:
    """Gateway calls one process may have in flight (all gateways): all its threads but one."""
    return max(settings.GUNICORN_THREADS - 1, 1)


def longest_call_seconds() -> float:
    """How long one call through the retry policy can hold its slot at most: the deadline, plus
    a last attempt started just before it (connect and read timeouts)."""
    return (
        settings.GATEWAY_RETRY_DEADLINE
        + settings.GATEWAY_CONNECT_TIMEOUT
        + settings.GATEWAY_READ_TIMEOUT
    )


class Bulkhead:
    """`with bulkhead.slot(): ...` runs the block in one of `limit` slots (per node) and within
    the process's share of threads, or raises GatewayUnavailable at once. A `limit` of 0 turns
    both bounds off."""

    def __init__(
        self,
        name: str,
        *,
        limit: int | None = None,
        process_limit: int | None = None,
        slot_seconds: float | None = None,
        node: str | None = None,
        cache=None,
    ):
        self.name = name
        self.limit = max(limit if limit is not None else settings.GATEWAY_MAX_CONCURRENT_CALLS, 0)
        self.process_limit = max(process_limit if process_limit is not None else process_share(), 1)
        # Whole seconds for the cache; a second of margin over the longest call.
        self.slot_seconds = math.ceil(
            slot_seconds if slot_seconds is not None else longest_call_seconds() + 1
        )
        self.node = node or socket.gethostname()
        self.cache = cache or default_cache
        self._keys = [f"gateway-bulkhead:{name}:{self.node}:{slot}" for slot in range(self.limit)]

    def __repr__(self):
        return f"Bulkhead({self.name!r}, limit={self.limit})"

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self.limit:
            yield
            return
        share = _local_semaphore(PROCESS_SHARE, self.process_limit)
        if not share.acquire(blocking=False):
            self._refuse(f"this process already has {self.process_limit} gateway calls in flight")
        try:
            release = self._acquire()
            if release is None:
                self._refuse(f"{self.limit} {self.name} calls already in flight on this node")
            try:
                yield
            finally:
                release()
        finally:
            share.release()

    def _refuse(self, why: str):
        logger.warning(
            "%s bulkhead full: %s; call refused",
            self.name,
            why,
            extra={"gateway": self.name, "limit": self.limit},
        )
        raise GatewayUnavailable(f"{self.name} is busy: {why}", gateway=self.name)

    def in_flight(self) -> int:
        """Slots taken on this node now (from the cache; 0 when the cache cannot say)."""
        try:
            return len(self.cache.get_many(self._keys))
        except Exception:
            self._cache_trouble("count its slots")
            return 0

    def _acquire(self) -> Callable[[], None] | None:
        """Take a slot; returns what frees it, or None when every slot is taken."""
        token = uuid.uuid4().hex
        # Start at a random slot so concurrent callers do not all race for the first key.
        first = random.randrange(self.limit)
        try:
            for offset in range(self.limit):
                key = self._keys[(first + offset) % self.limit]
                if self.cache.add(key, token, timeout=self.slot_seconds):
                    return lambda: self._release(key, token)
            return None
        except Exception:
            self._cache_trouble("take a slot")
        semaphore = _local_semaphore(self.name, self.limit)
        if semaphore.acquire(blocking=False):
            return semaphore.release
        return None

    def _release(self, key: str, token: str) -> None:
        try:
            # Only our own slot: if it expired and was taken again, it is someone else's now.
            if self.cache.get(key) == token:
                self.cache.delete(key)
        except Exception:
            # It expires by itself after slot_seconds.
            self._cache_trouble("free its slot")

    def _cache_trouble(self, what: str) -> None:
        logger.warning(
            "%s bulkhead could not %s: cache unavailable, bounding per process",
            self.name,
            what,
            exc_info=True,
            extra={"gateway": self.name},
        )
