"""The performance middleware: request ids, Server-Timing, the request log, slow thresholds."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory

from wetech.middleware.performance import PerformanceMiddleware
from wetech.request_context import get_request_id


class FakeClock:
    def __init__(self, *readings):
        self.readings = list(readings)

    def __call__(self):
        return self.readings.pop(0)


def middleware(view=None, clock=None):
    view = view or (lambda request: HttpResponse("ok"))
    if clock is None:
        return PerformanceMiddleware(view)
    return PerformanceMiddleware(view, clock=clock)


@pytest.mark.parametrize(
    "incoming",
    ["abc-123", "a" * 64, "trace.id_with-safe.chars"],
)
def test_a_safe_incoming_request_id_is_adopted_and_echoed(incoming):
    request = RequestFactory().get("/", headers={"X-Request-ID": incoming})

    response = middleware()(request)

    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["a" * 65, "bad id", "<script>", "id\r\nSet-Cookie: x=1", "ümlaut", ""],
)
def test_an_unsafe_request_id_is_replaced(incoming):
    request = RequestFactory().get("/")
    request.META["HTTP_X_REQUEST_ID"] = incoming

    response = middleware()(request)

    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_the_request_id_is_visible_to_the_view_and_cleared_after():
    seen = {}

    def view(request):
        seen["context"] = get_request_id()
        seen["attribute"] = request.request_id
        return HttpResponse()

    response = middleware(view)(RequestFactory().get("/", headers={"X-Request-ID": "r-1"}))

    assert seen == {"context": "r-1", "attribute": "r-1"}
    assert response["X-Request-ID"] == "r-1"
    assert get_request_id() is None


@pytest.mark.django_db
def test_every_response_from_the_site_carries_a_request_id(client):
    assert client.get("/")["X-Request-ID"]
    assert client.get("/missing/")["X-Request-ID"]


@pytest.mark.django_db
def test_server_timing_counts_queries_for_the_health_token(settings):
    from django.db import connection

    settings.HEALTH_TOKEN = "probe-token-123"

    def view(request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")
        return HttpResponse()

    request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.9", headers={"X-Health-Token": "probe-token-123"}
    )
    response = middleware(view)(request)

    assert response["Server-Timing"].startswith("total;dur=")
    assert 'desc="2 queries"' in response["Server-Timing"]


@pytest.mark.django_db
def test_server_timing_is_hidden_from_the_public_but_shown_to_staff(client):
    public = client.get("/", REMOTE_ADDR="203.0.113.9")
    staff = get_user_model().objects.create_user("ops", password="pw-long-enough", is_staff=True)
    client.force_login(staff)
    as_staff = client.get("/", REMOTE_ADDR="203.0.113.9")

    assert "Server-Timing" not in public
    assert "Server-Timing" in as_staff


@pytest.mark.django_db
@pytest.mark.parametrize("remote", ["127.0.0.1", "::1"])
def test_visitors_behind_the_local_proxy_see_no_server_timing(client, settings, remote):
    # Behind nginx every request connects from loopback: that says nothing about the visitor.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.HEALTH_TOKEN = "probe-token-123"
    response = client.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 200
    assert "Server-Timing" not in response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("configured", "offered", "shown"),
    [
        ("probe-token-123", "probe-token-123", True),
        ("probe-token-123", "probe-token-12", False),
        ("probe-token-123", "", False),
        ("", "", False),
    ],
)
def test_server_timing_needs_the_exact_health_token(client, settings, configured, offered, shown):
    settings.HEALTH_TOKEN = configured
    response = client.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_HEALTH_TOKEN=offered)

    assert response.status_code == 200
    assert ("Server-Timing" in response) is shown


@pytest.mark.django_db
def test_debug_shows_server_timing_to_everyone(settings):
    settings.DEBUG = True
    response = middleware()(RequestFactory().get("/", REMOTE_ADDR="203.0.113.9"))

    assert "Server-Timing" in response


def test_each_request_is_logged_as_one_structured_line(caplog):
    request = RequestFactory().get("/", headers={"X-Request-ID": "r-9"})
    with caplog.at_level(logging.INFO, logger="wetech.request"):
        middleware(clock=FakeClock(10.0, 10.25))(request)

    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.method == "GET"
    assert record.status == 200
    assert record.duration_ms == 250.0
    assert record.db_queries == 0
    assert record.request_id == "r-9"


@pytest.mark.parametrize(
    ("seconds", "level"),
    [(0.999, logging.INFO), (1.0, logging.WARNING), (4.9, logging.WARNING), (5.0, logging.ERROR)],
)
def test_slow_requests_are_logged_louder(caplog, seconds, level):
    with caplog.at_level(logging.INFO, logger="wetech.request"):
        middleware(clock=FakeClock(0.0, seconds))(RequestFactory().get("/"))

    assert caplog.records[-1].levelno == level


def test_thresholds_come_from_settings(caplog, settings):
    settings.SLOW_REQUEST_WARNING_MS = 100
    with caplog.at_level(logging.INFO, logger="wetech.request"):
        middleware(clock=FakeClock(0.0, 0.2))(RequestFactory().get("/"))

    assert caplog.records[-1].levelno == logging.WARNING


def test_a_failing_logger_never_breaks_the_response(monkeypatch):
    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(logging.Logger, "log", explode)
    monkeypatch.setattr(logging.Logger, "exception", explode)

    response = middleware()(RequestFactory().get("/"))

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["X-Request-ID"]


@pytest.mark.parametrize("path", ["/health/live/", "/health/ready/", "/health/"])
def test_passing_probes_are_not_logged_but_failing_or_slow_ones_are(caplog, path):
    def failing(request):
        return HttpResponse(status=503)

    with caplog.at_level(logging.INFO, logger="wetech.request"):
        passing = middleware(clock=FakeClock(0.0, 0.01))(RequestFactory().get(path))
        middleware(failing, clock=FakeClock(0.0, 0.01))(RequestFactory().get(path))
        middleware(clock=FakeClock(0.0, 2.0))(RequestFactory().get(path))

    assert passing["X-Request-ID"]
    assert [(r.status, r.levelno) for r in caplog.records] == [
        (503, logging.INFO),
        (200, logging.WARNING),
    ]
