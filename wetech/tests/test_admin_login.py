"""/admin/login/ locks a username from one client address after 10 failures (django-axes)."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def staff(settings):
    # A fast hasher: these tests sign in dozens of times (the default's cost is not the point).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users = get_user_model().objects
    return [
        users.create_user(name, password=PASSWORD, is_staff=True, is_superuser=True)
        for name in ("ops", "accounts")
    ]


def _login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def _fail(client, times, username="ops", **extra):
    return [_login(client, username, "wrong-password", **extra).status_code for _ in range(times)]


def test_ten_failures_lock_that_username_from_that_address(client, staff):
    address = {"REMOTE_ADDR": "203.0.113.9"}
    assert _fail(client, 9, **address) == [200] * 9
    # The tenth failure locks: the clear lockout page, in the site's error page style.
    locked = _login(client, "ops", "wrong-password", **address)
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed sign-ins for this username from your address." in html
    assert 'class="error-code">429' in html
    assert locked["Retry-After"] == "3600"
    # Now even the right password is refused from there.
    again = _login(client, "ops", PASSWORD, **address)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_same_username_from_another_address_still_signs_in(client, staff):
    _fail(client, 10, REMOTE_ADDR="203.0.113.9")
    assert _login(client, "ops", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429

    response = _login(client, "ops", PASSWORD, REMOTE_ADDR="198.51.100.20")
    assert _signed_in(response)
    assert client.get("/admin/").status_code == 200


def test_another_username_from_the_same_address_still_signs_in(client, staff):
    _fail(client, 10, REMOTE_ADDR="203.0.113.9")

    assert _signed_in(_login(client, "accounts", PASSWORD, REMOTE_ADDR="203.0.113.9"))


def test_the_address_follows_the_trusted_proxy_rule(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # Behind the proxy every request comes from 127.0.0.1; the client writes what it likes on
    # the left of X-Forwarded-For, the proxy appends the real address on the right.
    attacker = [
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"10.0.0.{n}, 203.0.113.9"}
        for n in range(11)
    ]
    codes = [_login(client, "ops", "wrong-password", **extra).status_code for extra in attacker]
    assert codes == [200] * 9 + [429, 429]

    staff_at_office = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.20"}
    assert _signed_in(_login(client, "ops", PASSWORD, **staff_at_office))


def test_a_successful_sign_in_clears_earlier_failures(client, staff):
    address = {"REMOTE_ADDR": "203.0.113.9"}
    _fail(client, 9, **address)
    assert _signed_in(_login(client, "ops", PASSWORD, **address))
    client.logout()

    assert _fail(client, 9, **address) == [200] * 9
