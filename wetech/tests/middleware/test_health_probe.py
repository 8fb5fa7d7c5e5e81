import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from wetech.middleware.health_probe import HealthProbeMiddleware

PROBE_PATHS = ["/health/live/", "/health/ready/", "/health/"]


@pytest.fixture(autouse=True)
def _writable_folders(settings, tmp_path):
    settings.LOG_DIR = tmp_path
    settings.BACKUP_DIR = tmp_path


def test_sits_right_after_the_performance_middleware():
    middleware = django_settings.MIDDLEWARE
    position = middleware.index("wetech.middleware.health_probe.HealthProbeMiddleware")
    assert middleware[position - 1] == "wetech.middleware.performance.PerformanceMiddleware"
    assert position < middleware.index("django.middleware.security.SecurityMiddleware")
    assert position < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")


def test_answers_probes_itself_and_passes_everything_else_on():
    passed_on = []

    def rest_of_the_stack(request):
        passed_on.append(request.path)
        raise AssertionError("a probe reached the rest of the stack")

    middleware = HealthProbeMiddleware(rest_of_the_stack)
    response = middleware(RequestFactory().get("/health/live/"))
    assert response.status_code == 200
    assert passed_on == []
    with pytest.raises(AssertionError):
        middleware(RequestFactory().get("/health/live/extra/"))
    assert passed_on == ["/health/live/extra/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBE_PATHS)
def test_ip_address_as_host_is_answered_not_rejected(client, path):
    # ALLOWED_HOSTS does not list the address a load balancer probes by.
    response = client.get(path, HTTP_HOST="10.20.30.40:8000")
    assert response.status_code in (200, 503)
    assert client.get("/", HTTP_HOST="10.20.30.40:8000").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBE_PATHS)
def test_plain_http_is_answered_not_redirected(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = []
    response = client.get(path)
    assert response.status_code in (200, 503)
    assert client.get("/").status_code == 301


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBE_PATHS)
def test_probes_set_no_cookie_and_carry_a_request_id(client, path):
    response = client.get(path, HTTP_X_REQUEST_ID="lb-probe-1")
    assert not response.cookies
    assert "Set-Cookie" not in response
    assert response["X-Request-ID"] == "lb-probe-1"


@pytest.mark.django_db
def test_probes_need_no_csrf_token_and_no_session(client):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    response = csrf_client.head("/health/ready/")
    assert response.status_code in (200, 503)
    assert not response.cookies
