"""django-ratelimit's `ratelimit` decorator, failing open when the cache cannot count.

The counters live in the cache. When Redis is down, django-ratelimit raises the cache's error
(every limited view became a 500) or, when a counter cannot be read back, calls the request
limited. A rate limit is a guard against abuse, not something a page or a payment callback may
fail on: here a cache fault lets the request through (as if no limit applied) and says so in a
warning at most once a minute per process, so a Redis outage does not flood the logs.
Callbacks are authenticated on their own (secret path, status query), so they are never refused
for a cache fault either.
"""

import logging
import threading
import time
from functools import wraps

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

logger = logging.getLogger("wetech.ratelimit")

WARN_EVERY_SECONDS = 60.0

_warned_at: float | None = None
_warn_lock = threading.Lock()


def _cache_fault(group: str, reason: str) -> None:
    global _warned_at
    now = time.monotonic()
    with _warn_lock:
        if _warned_at is not None and now - _warned_at < WARN_EVERY_SECONDS:
            return
        _warned_at = now
    logger.warning(
        "rate limit %s not applied: the cache is unavailable (%s); requests pass unlimited",
        group,
        reason,
        extra={"ratelimit_group": group},
    )


def is_limited(request, *, group, key, rate, method=ALL, fn=None) -> bool:
    """Count this request against the limit; False when it may go on (or the cache failed)."""
    try:
        usage = get_usage(
            request, group=group, fn=fn, key=key, rate=rate, method=method, increment=True
        )
    except ImproperlyConfigured:
        raise
    except Exception as exc:
        _cache_fault(group or getattr(fn, "__qualname__", "?"), type(exc).__name__)
        return False
    if usage is None:
        return False
    # django-ratelimit's answer when the count could not be stored or read back.
    if usage["limit"] == 0 and usage["time_left"] == -1:
        _cache_fault(group or getattr(fn, "__qualname__", "?"), "no count")
        return False
    return bool(usage["should_limit"])


def ratelimit(group=None, key=None, rate=None, method=ALL, block=True):
    """Drop-in for `django_ratelimit.decorators.ratelimit` (same arguments and
    `request.limited`), except that a cache fault never limits and never raises."""

    def decorator(fn):
        @wraps(fn)
        def wrapped(request, *args, **kwargs):
            already = getattr(request, "limited", False)
            limited = is_limited(request, group=group, key=key, rate=rate, method=method, fn=fn)
            request.limited = limited or already
            if limited and block:
                cls = getattr(settings, "RATELIMIT_EXCEPTION_CLASS", Ratelimited)
                raise (import_string(cls) if isinstance(cls, str) else cls)()
            return fn(request, *args, **kwargs)

        return wrapped

    return decorator
