"""The simulators' memory: the Django cache, so runserver threads (and tests) share it."""

import threading
from datetime import UTC, datetime, timedelta

from django.core.cache import cache

PREFIX = "gateway-simulator"
RECORD_SECONDS = 7 * 24 * 3600
_lock = threading.Lock()


def _key(*parts) -> str:
    return ":".join((PREFIX, *map(str, parts)))


def load(*parts):
    return cache.get(_key(*parts))


def save(*parts, value, timeout=RECORD_SECONDS) -> None:
    cache.set(_key(*parts), value, timeout=timeout)


def update(*parts, change) -> dict | None:
    """Apply `change(record)` to a stored record under a lock; returns the new record."""
    with _lock:
        record = load(*parts)
        if record is None:
            return None
        record = change(dict(record))
        save(*parts, value=record)
        return record


def append(*parts, item) -> list:
    with _lock:
        items = [*(load(*parts) or []), item]
        save(*parts, value=items, timeout=None)
        return items


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime, *, digits: int = 7) -> str:
    """ISO-8601 UTC with as many fractional digits as the .NET services print, and a Z."""
    base = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (base + "0" * digits)[: len("YYYY-MM-DDTHH:MM:SS.") + digits] + "Z"


def later(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)
