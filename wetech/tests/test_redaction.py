"""Credential path segments: masked by position, whatever the segment holds."""

import pytest

from wetech.redaction import mask_credential_paths, redact, redact_text

SECRET = "Zk3-callback-secret-0123456789abcdefghij"
TOKEN = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"/payments/azampay/callback/{SECRET}/", "/payments/azampay/callback/[redacted]/"),
        # Any value: a second (rotated) secret, a wrong guess, junk.
        ("/payments/azampay/callback/guess/", "/payments/azampay/callback/[redacted]/"),
        ("/payments/azampay/callback/a%20b'c/", "/payments/azampay/callback/[redacted]/"),
        (
            f"Bad Request: /payments/azampay/callback/{SECRET}/",
            "Bad Request: /payments/azampay/callback/[redacted]/",
        ),
        (
            f'"POST /payments/azampay/callback/{SECRET} HTTP/1.1" 404',
            '"POST /payments/azampay/callback/[redacted] HTTP/1.1" 404',
        ),
        (
            f"https://wetech.co.tz/PAYMENTS/AzamPay/Callback/{SECRET}/?x=1",
            "https://wetech.co.tz/PAYMENTS/AzamPay/Callback/[redacted]/?x=1",
        ),
        (f"/invoices/{TOKEN}/", "/invoices/[redacted]/"),
        (f"/invoices/{TOKEN}/pay/azampay/", "/invoices/[redacted]/pay/azampay/"),
        (
            f"<WSGIRequest: GET '/invoices/{TOKEN}/status/'>",
            "<WSGIRequest: GET '/invoices/[redacted]/status/'>",
        ),
        (
            f'{{"url": "https://wetech.co.tz/invoices/{TOKEN}"}}',
            '{"url": "https://wetech.co.tz/invoices/[redacted]"}',
        ),
        (
            f"from /invoices/{TOKEN}/ to /invoices/{TOKEN[::-1]}/",
            "from /invoices/[redacted]/ to /invoices/[redacted]/",
        ),
    ],
)
def test_credential_segments_are_masked_by_position(text, masked):
    assert mask_credential_paths(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GET /leads/thanks/ 200",
        "/payments/pesapal/ipn/?OrderTrackingId=abc",
        "/payments/azampay/callback/",
        "/invoices/",
        "/admin/wetech/invoice/3/change/",
        "invoice WT-2026-00042 paid",
    ],
)
def test_other_text_is_left_alone(text):
    assert mask_credential_paths(text) == text


def test_redact_masks_credential_paths_in_text_and_nested_values():
    assert redact_text(f"Not Found: /invoices/{TOKEN}/") == "Not Found: /invoices/[redacted]/"
    assert redact({"path": [f"/payments/azampay/callback/{SECRET}/"]}) == {
        "path": ["/payments/azampay/callback/[redacted]/"]
    }
