"""The simulators' one merchant account, and the gateway settings that point the site at them.

The only place these values are written: `wetechnologies/settings.py` reads them when
GATEWAY_SIMULATOR is on, `sandbox.testing.simulator_settings` when a test switches the simulators
on, and the simulators accept exactly these. No Django import here, so the settings module can
use it before Django is set up.
"""

# Public, made-up values that only the local simulators accept: not secrets.
# ruff: noqa: S105

PESAPAL_CONSUMER_KEY = "simulator-key"
PESAPAL_CONSUMER_SECRET = "simulator-secret"
# RequestToken answers this key the way integrators report Pesapal refusing credentials at
# times: HTTP 500 with the usual error body (gateways.md A2), instead of HTTP 200.
PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500 = "simulator-key-answered-with-http-500"

AZAMPAY_APP_NAME = "wetech-simulator"
AZAMPAY_CLIENT_ID = "simulator-client"
AZAMPAY_CLIENT_SECRET = "simulator-secret"
AZAMPAY_API_KEY = "simulator-api-key"
# The merchant's secret path segment, not AzamPay's: the simulator posts its callbacks to
# whatever the site's settings register (wetech.callback_auth.azampay_callback_url).
AZAMPAY_CALLBACK_SECRET = "simulator-callback-secret-0123456789abcdef"


def gateway_settings(site_url: str) -> dict:
    """Every gateway URL and credential for simulators served by the site at `site_url`."""
    base = f"{site_url.rstrip('/')}/sandbox"
    return {
        "PESAPAL_BASE_URL": f"{base}/pesapal",
        "PESAPAL_CONSUMER_KEY": PESAPAL_CONSUMER_KEY,
        "PESAPAL_CONSUMER_SECRET": PESAPAL_CONSUMER_SECRET,
        "AZAMPAY_AUTH_URL": f"{base}/azampay/auth",
        "AZAMPAY_CHECKOUT_URL": f"{base}/azampay/checkout",
        "AZAMPAY_APP_NAME": AZAMPAY_APP_NAME,
        "AZAMPAY_CLIENT_ID": AZAMPAY_CLIENT_ID,
        "AZAMPAY_CLIENT_SECRET": AZAMPAY_CLIENT_SECRET,
        "AZAMPAY_API_KEY": AZAMPAY_API_KEY,
        "AZAMPAY_CALLBACK_SECRET": AZAMPAY_CALLBACK_SECRET,
    }
