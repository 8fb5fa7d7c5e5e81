"""Security headers with DEBUG off (the test settings run with DEBUG=false)."""

import pytest


@pytest.mark.django_db
def test_every_page_carries_the_security_headers(client):
    response = client.get("/", secure=True)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    # The pay button's redirect to Pesapal's hosted page must be allowed by form-action.
    assert "https://cybqa.pesapal.com" in csp


@pytest.mark.django_db
def test_plain_http_is_redirected_when_ssl_redirect_is_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    plain = client.get("/")
    behind_tls_proxy = client.get("/", headers={"X-Forwarded-Proto": "https"})

    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert behind_tls_proxy.status_code == 200


@pytest.mark.django_db
def test_cookies_are_secure(settings):
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True


@pytest.mark.django_db
def test_404_page_is_friendly_and_leaks_nothing(client):
    response = client.get("/no/such/page/<script>")

    assert response.status_code == 404
    body = response.content.decode()
    assert "We could not find that page." in body
    assert "<script>" not in body
    assert "Traceback" not in body
    assert "wetechnologies" not in body
    assert response["X-Request-ID"] in body


@pytest.mark.django_db
def test_404_for_json_clients_uses_the_error_shape(client):
    response = client.get("/nope/", headers={"Accept": "application/json"})

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["request_id"] == response["X-Request-ID"]
    assert error["suggestions"]


@pytest.mark.django_db
def test_500_page_shows_no_internals(client, settings):
    from wetech.tests import urls_failing

    settings.ROOT_URLCONF = urls_failing.__name__
    client.raise_request_exception = False

    response = client.get("/boom/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side." in body
    assert "secret-detail-in-exception" not in body
    assert "Traceback" not in body
