"""Browser end-to-end tests: Playwright driving Debian's Chromium against pytest's live server.

Playwright's own browser download cannot work here, so the tests use /usr/bin/chromium and are
skipped when it is absent (`.ci/run` installs it). Screenshots of the key pages are written to
`artifacts/screenshots/` (git-ignored) for people to look at.
"""

import os
from pathlib import Path

import pytest

from sandbox.testing import simulator_settings
from wetech.payments.gateways.clients import reset_gateway_clients
from wetech.tests.conftest import REPO_ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
# Flags for a closed network: without them Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser(django_db_setup):
    # The test database is created before Playwright starts its event loop on this thread.
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; .ci/run installs it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on the test's thread, which makes Django refuse
    # ORM calls there (the tests' own queries and pytest-django's flushes); they are synchronous
    # and safe. `make test` runs the browser tests in a pytest run of their own, and the setting
    # is removed when the browser closes.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def site(live_server, settings, transactional_db):
    """The live server with the gateway simulators switched on and pointing at itself."""
    base = live_server.url
    for name, value in simulator_settings(base).items():
        setattr(settings, name, value)
    # Long enough for a person to see "approve the prompt on your phone" before it turns paid.
    settings.SIMULATOR_AZAMPAY_DELAY_SECONDS = 2
    settings.ALLOWED_HOSTS = ["*"]
    # The live server speaks plain HTTP.
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SECURE = False
    settings.LANGUAGE_COOKIE_SECURE = False
    reset_gateway_clients()
    from django.core.management import call_command

    call_command("seed_demo")
    yield base
    reset_gateway_clients()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
