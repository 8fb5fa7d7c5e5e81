"""The three probes: liveness, readiness and the full health report.

`wetech.middleware.health_probe.HealthProbeMiddleware` serves these paths itself, ahead of the SSL
redirect, the host check, sessions, CSRF and rate limits; the URL routes exist for `reverse()` and
for a stack without that middleware. Nothing here may raise: a probe always answers.
"""

import hmac
import logging
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django.db import connections
from django.http import HttpResponseNotAllowed, JsonResponse

from wetech.ops.health import FAIL, PASS, health_report_build, submit_once

logger = logging.getLogger("wetech.health")

CONTENT_TYPE = "application/health+json"
# How long a staff lookup may add after the checks are done.
_PRIVILEGE_GRACE_SECONDS = 0.2


def live(request):
    """No I/O at all: if this answers, the process can serve requests."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed()
    return _respond({"status": PASS})


def ready(request):
    return _report(request, scope="ready")


def report(request):
    return _report(request, scope="full")


def _report(request, *, scope):
    if request.method not in ("GET", "HEAD"):
        return _not_allowed()
    staff_lookup = _start_staff_lookup(request)
    result = health_report_build(scope=scope)
    body = result.as_json(include_output=_privileged(request, staff_lookup))
    return _respond(body, status=503 if result.status == FAIL else 200)


def _respond(body, *, status=200):
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _not_allowed():
    response = HttpResponseNotAllowed(["GET", "HEAD"])
    response["Cache-Control"] = "no-store"
    return response


def _privileged(request, staff_lookup) -> bool:
    """A matching X-Health-Token header, or a staff session; anyone else sees no details."""
    expected = settings.HEALTH_TOKEN
    offered = request.headers.get("X-Health-Token", "")
    if expected and offered and hmac.compare_digest(offered.encode(), expected.encode()):
        return True
    if staff_lookup is None:
        return False
    try:
        return staff_lookup.result(timeout=_PRIVILEGE_GRACE_SECONDS)
    except FutureTimeout:
        return False


def _start_staff_lookup(request):
    """Look the session's user up in the pool, so a hung database cannot hold the probe."""
    user = getattr(request, "user", None)
    if user is not None:
        return _done(bool(user.is_active and user.is_staff))
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    return submit_once("privilege", lambda: _is_staff_session(session_key))


def _is_staff_session(session_key) -> bool:
    """Runs in a pool thread: uses that thread's connections and closes them before returning."""
    try:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        # get_user() checks the session's auth hash too, so a stale session is not staff.
        user = get_user(SimpleNamespace(session=store))
        return bool(user.is_active and user.is_staff)
    except Exception:
        logger.warning("health: could not look up the caller's session", exc_info=True)
        return False
    finally:
        connections.close_all()


def _done(value) -> Future:
    future = Future()
    future.set_result(value)
    return future
