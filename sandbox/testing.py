"""Switching the simulators on in a process that is already running (tests, `gateway_demo`).

For tests that run the site under pytest-django's `live_server` (settings read GATEWAY_SIMULATOR
once, at start-up, which a test cannot redo):

    for name, value in simulator_settings(live_server.url).items():
        setattr(settings, name, value)

or `override_settings(**simulator_settings(base_url))`. Either installs the sandbox app, routes it
(ROOT_URLCONF `sandbox.site_urls`) and points the gateway clients at it.
"""

from django.conf import settings

from sandbox.credentials import gateway_settings


def simulator_settings(base_url: str, *, site_url: str | None = None) -> dict:
    """The settings of a site whose gateways are the simulators served from `base_url`.

    `site_url` (default `base_url`) is where the simulators send callbacks and IPNs.
    """
    base_url = base_url.rstrip("/")
    installed = list(settings.INSTALLED_APPS)
    return {
        "GATEWAY_SIMULATOR": True,
        "INSTALLED_APPS": installed if "sandbox" in installed else [*installed, "sandbox"],
        "ROOT_URLCONF": "sandbox.site_urls",
        "SITE_URL": (site_url or base_url).rstrip("/"),
        **gateway_settings(base_url),
        "PESAPAL_IPN_ID": "",
        # Off, as in production (gateways.md B7): the tests run the callback-only path.
        "AZAMPAY_STATUS_QUERY": False,
        "SIMULATOR_AZAMPAY_DELAY_SECONDS": 0,
    }


def pesapal_refund_approve(confirmation_code: str) -> None:
    """Approve a refund the Pesapal simulator queued, as the merchant would in Pesapal's portal.

    The payment then turns REVERSED and the IPN is sent. The same as a POST to
    `/sandbox/pesapal/control/refunds/<confirmation_code>/approve/`.
    """
    from sandbox import pesapal

    if pesapal.refund_approve(confirmation_code) is None:
        raise LookupError(f"no refund of payment {confirmation_code} awaits approval")
