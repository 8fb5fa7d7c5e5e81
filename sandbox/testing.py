"""Settings that point the gateway clients at a simulator served from `base_url`.

For tests that run the site under pytest-django's `live_server` (GATEWAY_SIMULATOR computes
these at import, from SITE_URL, which a test cannot change afterwards):

    for name, value in simulator_settings(live_server.url).items():
        setattr(settings, name, value)
"""


def simulator_settings(base_url: str, *, site_url: str | None = None) -> dict:
    base_url = base_url.rstrip("/")
    return {
        "GATEWAY_SIMULATOR": True,
        "SITE_URL": (site_url or base_url).rstrip("/"),
        "PESAPAL_BASE_URL": f"{base_url}/sandbox/pesapal",
        "PESAPAL_CONSUMER_KEY": "simulator-key",
        "PESAPAL_CONSUMER_SECRET": "simulator-secret",
        "PESAPAL_IPN_ID": "",
        "AZAMPAY_AUTH_URL": f"{base_url}/sandbox/azampay/auth",
        "AZAMPAY_CHECKOUT_URL": f"{base_url}/sandbox/azampay/checkout",
        "AZAMPAY_APP_NAME": "wetech-simulator",
        "AZAMPAY_CLIENT_ID": "simulator-client",
        "AZAMPAY_CLIENT_SECRET": "simulator-secret",
        "AZAMPAY_API_KEY": "simulator-api-key",
        "AZAMPAY_CALLBACK_SECRET": "simulator-callback-secret-0123456789abcdef",
        "AZAMPAY_STATUS_QUERY": True,
        "SIMULATOR_AZAMPAY_DELAY_SECONDS": 0,
    }
