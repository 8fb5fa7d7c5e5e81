import pytest
import requests

from sandbox.testing import simulator_settings
from wetech.tests.payments.gateways import conftest as gateway_fixtures

# The gateway tests' fixtures: fresh clients per test and the capture server.
_fresh_clients = gateway_fixtures._fresh_clients
capture = gateway_fixtures.capture

PAGE_TIMEOUT = (3.05, 10.0)


@pytest.fixture
def simulator(live_server, settings, capture):
    """The simulators served by live_server; the site's own callback URLs go to `capture`."""
    for name, value in simulator_settings(live_server.url, site_url=capture.url).items():
        setattr(settings, name, value)
    return live_server


def press(page_url: str, action: str) -> requests.Response:
    """What a person does on a hosted page: open it, then press a button."""
    with requests.Session() as browser:
        page = browser.get(page_url, timeout=PAGE_TIMEOUT)
        assert page.status_code == 200
        return browser.post(
            page_url,
            data={"action": action},
            allow_redirects=False,
            timeout=PAGE_TIMEOUT,
        )
