"""Request id, timing, query counting, Server-Timing and the one-line request log.

It is first in MIDDLEWARE so it sees every request, and nothing it does may break one: its own
failures are caught, reported once to stderr-backed logging and the response goes out regardless.
"""

import contextlib
import hmac
import logging
import re
import time
import uuid
from contextlib import ExitStack

from django.conf import settings
from django.db import connections

from wetech.request_context import reset_request_id, set_request_id

logger = logging.getLogger("wetech.request")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(request) -> str:
    """Adopt the caller's X-Request-ID when it is short and safe, else make a new one."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _is_probe(path: str) -> bool:
    return path.startswith("/health/") or path == "/health"


class _QueryTimer:
    """A database execute_wrapper that counts queries and their wall time."""

    __slots__ = ("count", "seconds")

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class PerformanceMiddleware:
    def __init__(self, get_response, clock=time.perf_counter):
        self.get_response = get_response
        self.clock = clock
        self.warn_ms = settings.SLOW_REQUEST_WARNING_MS
        self.error_ms = settings.SLOW_REQUEST_ERROR_MS

    def __call__(self, request):
        request_id = request_id_from(request)
        request.request_id = request_id
        token = set_request_id(request_id)
        timer = _QueryTimer()
        started = self.clock()
        try:
            with ExitStack() as stack:
                for connection in connections.all():
                    stack.enter_context(connection.execute_wrapper(timer))
                response = self.get_response(request)
            try:
                self._finish(request, response, request_id, started, timer)
            except Exception:
                self._report_own_failure()
            return response
        finally:
            reset_request_id(token)

    def _finish(self, request, response, request_id, started, timer):
        duration_ms = (self.clock() - started) * 1000
        db_ms = timer.seconds * 1000
        response[REQUEST_ID_HEADER] = request_id
        if self._may_see_timing(request):
            response["Server-Timing"] = (
                f'total;dur={duration_ms:.1f}, db;dur={db_ms:.1f};desc="{timer.count} queries"'
            )
        if duration_ms >= self.error_ms:
            level = logging.ERROR
        elif duration_ms >= self.warn_ms:
            level = logging.WARNING
        else:
            level = logging.INFO
        if not logger.isEnabledFor(level):
            return
        # Load balancers probe every few seconds: a passing, fast probe is not worth a line
        # (gunicorn's access log still has it, with its request id); a failing or slow one is.
        if level == logging.INFO and response.status_code < 400 and _is_probe(request.path):
            return
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.route) if match else "-"
        logger.log(
            level,
            "%s %s %s %.1fms %dq%s",
            request.method,
            route,
            response.status_code,
            duration_ms,
            timer.count,
            " slow" if level > logging.INFO else "",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 1),
                "db_queries": timer.count,
                "db_ms": round(db_ms, 1),
                "request_id": request_id,
            },
        )

    def _may_see_timing(self, request) -> bool:
        """DEBUG, the health token or a staff session; never a client address: behind the
        proxy every visitor arrives from 127.0.0.1."""
        if settings.DEBUG:
            return True
        expected = settings.HEALTH_TOKEN
        offered = request.headers.get("X-Health-Token", "")
        if expected and offered and hmac.compare_digest(offered.encode(), expected.encode()):
            return True
        # Only look the user up when there is a session to find one in: a visitor without a
        # session cookie must not cost a query here.
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return False
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_active and user.is_staff)

    @staticmethod
    def _report_own_failure():
        # If the logging system itself is broken, the response still goes out.
        with contextlib.suppress(Exception):
            logger.exception("performance middleware failed; response sent unchanged")
