import pytest

ROUTES = [
    ("post", "/sandbox/pesapal/api/Auth/RequestToken"),
    ("post", "/sandbox/pesapal/api/URLSetup/RegisterIPN"),
    ("get", "/sandbox/pesapal/api/URLSetup/GetIpnList"),
    ("post", "/sandbox/pesapal/api/Transactions/SubmitOrderRequest"),
    ("get", "/sandbox/pesapal/api/Transactions/GetTransactionStatus"),
    ("post", "/sandbox/pesapal/api/Transactions/RefundRequest"),
    ("post", "/sandbox/pesapal/api/Transactions/CancelOrder"),
    ("get", "/sandbox/pesapal/pay/c8b0e0fb-23f0-44dc-b79b-dd751b446913/"),
    ("post", "/sandbox/azampay/auth/AppRegistration/GenerateToken"),
    ("post", "/sandbox/azampay/checkout/azampay/mno/checkout"),
    ("post", "/sandbox/azampay/checkout/api/v1/Partner/PostCheckout"),
    ("get", "/sandbox/azampay/checkout/api/v1/partner/gettransactionstatus"),
    ("get", "/sandbox/azampay/pay/abc/"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_simulator_route_is_404_when_the_simulator_is_off(client, settings, method, path):
    settings.GATEWAY_SIMULATOR = False
    settings.PESAPAL_CONSUMER_KEY = "k"
    settings.PESAPAL_CONSUMER_SECRET = "s"

    response = getattr(client, method)(
        path,
        data='{"consumer_key": "k", "consumer_secret": "s"}' if method == "post" else None,
        content_type="application/json",
    )

    assert response.status_code == 404


def test_the_token_endpoint_answers_when_the_simulator_is_on(client, settings):
    settings.GATEWAY_SIMULATOR = True
    settings.PESAPAL_CONSUMER_KEY = "k"
    settings.PESAPAL_CONSUMER_SECRET = "s"

    response = client.post(
        "/sandbox/pesapal/api/Auth/RequestToken",
        data={"consumer_key": "k", "consumer_secret": "s"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "200"
    assert response.json()["expiryDate"].endswith("Z")
