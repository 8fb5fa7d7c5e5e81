"""Sentry: off without a DSN; every event scrubbed of secrets and phone numbers."""

from wetech.redaction import scrub_sentry_event
from wetech.sentry import traces_sampler
from wetech.tests.conftest import run_django


def test_sentry_is_not_initialised_without_a_dsn():
    result = run_django(
        "shell",
        "-c",
        "import sentry_sdk; print(sentry_sdk.get_client().is_active())",
        env={"SENTRY_DSN": None},
    )

    assert result.stdout.strip().splitlines()[-1] == "False"


def test_sentry_is_initialised_with_pii_off_when_a_dsn_is_set():
    result = run_django(
        "shell",
        "-c",
        "import sentry_sdk; o = sentry_sdk.get_client().options; "
        "print(o['environment'], o['release'], o['send_default_pii'], o['max_request_body_size'])",
        env={
            "SENTRY_DSN": "https://public@sentry.invalid/1",
            "SENTRY_ENVIRONMENT": "staging",
            "SENTRY_RELEASE": "wetech@1.2.3",
        },
    )

    assert result.stdout.strip().splitlines()[-1] == "staging wetech@1.2.3 False never", (
        result.stderr
    )


def test_scrubber_removes_gateway_secrets_and_phone_numbers_from_an_event():
    event = {
        "message": "AzamPay push to 255712345678 failed",
        "request": {
            "url": "https://wetech.co.tz/payments/azampay/callback/xyz/",
            "headers": {
                "Authorization": "Bearer eyJsecret",
                "X-Api-Key": "azam-api-key",
                "Cookie": "sessionid=abc",
                "User-Agent": "AzamPay/1.0",
            },
            "data": {
                "msisdn": "255712345678",
                "consumer_secret": "pesapal-secret",
                "amount": "413000",
                "utilityref": "WT-2026-00042-A1",
            },
            "query_string": "phone=0712345678&token=abc",
            "cookies": {"sessionid": "abc"},
        },
        "exception": {
            "values": [
                {
                    "value": "client_secret=topsecret rejected for +255 712 345 678",
                    "stacktrace": {
                        "frames": [{"vars": {"password": "pw", "phone": "0712345678", "n": 3}}]
                    },
                }
            ]
        },
        "extra": {"PESAPAL_CONSUMER_SECRET": "pesapal-secret"},
        "user": {"email": "customer@example.com", "ip_address": "196.1.2.3"},
        "breadcrumbs": {"values": [{"message": "GET token=abc for 0754000111", "data": {}}]},
    }

    scrubbed = scrub_sentry_event(event)
    text = repr(scrubbed)

    for leaked in (
        "eyJsecret",
        "azam-api-key",
        "sessionid",
        "pesapal-secret",
        "topsecret",
        "712345678",
        "712 345",
        "0754000111",
        "customer@example.com",
        "'pw'",
    ):
        assert leaked not in text, leaked
    # The body is reduced to its field names (the notification inbox keeps callbacks).
    assert scrubbed["request"]["data"] == {
        "msisdn": "[redacted]",
        "consumer_secret": "[redacted]",
        "amount": "[redacted]",
        "utilityref": "[redacted]",
    }
    assert scrubbed["request"]["headers"]["User-Agent"] == "AzamPay/1.0"
    assert "user" not in scrubbed


def test_probes_and_static_files_are_never_traced():
    assert traces_sampler({"wsgi_environ": {"PATH_INFO": "/health/live/"}}, rate=1.0) == 0.0
    assert traces_sampler({"wsgi_environ": {"PATH_INFO": "/static/css/site.css"}}, rate=1.0) == 0
    assert traces_sampler({"wsgi_environ": {"PATH_INFO": "/leads/"}}, rate=0.2) == 0.2


def test_scrubber_masks_credential_paths_everywhere_in_an_event(rf):
    secret = "Zk3-callback-secret-0123456789abcdefghij"
    token = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C"
    event = {
        "transaction": f"/invoices/{token}/status/",
        "request": {
            "url": f"https://wetech.co.tz/payments/azampay/callback/{secret}/",
            "headers": {"Referer": f"https://wetech.co.tz/invoices/{token}/"},
        },
        "breadcrumbs": {
            "values": [
                {
                    "message": f"Not Found: /payments/azampay/callback/{secret}/",
                    # The logging integration keeps a record's extras as they are: objects too.
                    "data": {"request": rf.get(f"/invoices/{token}/"), "status_code": 404},
                }
            ]
        },
        "spans": [{"description": f"GET http://x/invoices/{token}/", "op": "http.client"}],
        "tags": {"url": f"/invoices/{token}/pay/azampay/"},
    }

    scrubbed = scrub_sentry_event(event)

    assert secret not in repr(scrubbed) and token not in repr(scrubbed)
    assert scrubbed["transaction"] == "/invoices/[redacted]/status/"
    assert scrubbed["request"]["url"] == (
        "https://wetech.co.tz/payments/azampay/callback/[redacted]/"
    )
    crumb = scrubbed["breadcrumbs"]["values"][0]
    assert crumb["data"] == {
        "request": "<WSGIRequest: GET '/invoices/[redacted]/'>",
        "status_code": 404,
    }


def test_scrubber_keeps_no_request_body_only_its_field_names():
    form = {"request": {"data": {"name": "Zawadi Kileo", "email": "z@example.co.tz"}}}
    raw = {"request": {"data": '{"message": "call me on 0754 321 987"}'}}
    removed = {"request": {"data": None}}

    assert scrub_sentry_event(form)["request"]["data"] == {
        "name": "[redacted]",
        "email": "[redacted]",
    }
    assert scrub_sentry_event(raw)["request"]["data"] == "[redacted]"
    assert scrub_sentry_event(removed)["request"]["data"] is None
