"""Log files, rotation, JSON lines, request ids and redaction."""

import json
import logging
import logging.config
import threading

import pytest

from wetech.log import build_logging_config
from wetech.request_context import reset_request_id, set_request_id


@pytest.fixture
def configured(tmp_path):
    """Apply the site's logging config to a temporary directory; restore Django's afterwards."""
    from django.conf import settings

    def apply(fmt="text", **overrides):
        config = build_logging_config(log_dir=tmp_path, level="INFO", fmt=fmt)
        for name, values in overrides.items():
            config["handlers"][name].update(values)
        logging.config.dictConfig(config)
        return tmp_path

    yield apply
    logging.shutdown()
    logging.config.dictConfig(settings.LOGGING)


def read(path):
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_info_goes_to_app_log_and_errors_to_both(configured):
    log_dir = configured()
    log = logging.getLogger("wetech.test")

    log.info("lead captured")
    log.error("gateway exploded")

    app = read(log_dir / "app.log")
    errors = read(log_dir / "errors.log")
    assert "INFO wetech.test [-] lead captured" in app
    assert "gateway exploded" in app
    assert "gateway exploded" in errors
    assert "lead captured" not in errors


def test_records_carry_the_current_request_id(configured):
    log_dir = configured()
    token = set_request_id("req-abc.123")
    try:
        logging.getLogger("wetech.test").info("inside a request")
    finally:
        reset_request_id(token)

    assert "[req-abc.123] inside a request" in read(log_dir / "app.log")


def test_json_format_writes_one_object_per_line_with_extras(configured):
    log_dir = configured(fmt="json")
    token = set_request_id("r1")
    try:
        logging.getLogger("wetech.test").warning(
            "slow request %s", "/x/", extra={"duration_ms": 1234.5}
        )
    finally:
        reset_request_id(token)

    lines = read(log_dir / "app.log").strip().splitlines()
    record = json.loads(lines[-1])
    assert record["message"] == "slow request /x/"
    assert record["level"] == "WARNING"
    assert record["request_id"] == "r1"
    assert record["duration_ms"] == 1234.5
    assert record["logger"] == "wetech.test"


def test_phone_numbers_card_numbers_and_secrets_never_reach_the_file(configured):
    log_dir = configured(fmt="json")
    log = logging.getLogger("wetech.test")

    log.info("push to %s for invoice WT-2026-00042", "+255 712 345 678")
    log.info("card 4111 1111 1111 1111 declined; amount 413000.00 due 2026-12-07")
    log.info("calling with Authorization: Bearer eyJhbGciOi.abc.def and consumer_secret=s3cr3t")
    log.info("callback", extra={"msisdn": "255712345678", "client_secret": "hunter2"})

    text = read(log_dir / "app.log")
    assert "712 345" not in text and "712345678" not in text
    assert "*********678" in text
    assert "4111" not in text
    assert "413000.00" in text and "2026-12-07" in text and "WT-2026-00042" in text
    assert "eyJhbGciOi" not in text and "s3cr3t" not in text and "hunter2" not in text


def test_files_rotate_at_the_size_limit_keeping_five(configured):
    small = {"maxBytes": 2000, "backupCount": 5}
    log_dir = configured(app_file=small)
    log = logging.getLogger("wetech.test")

    for n in range(400):
        log.info("line %04d %s", n, "x" * 40)

    names = sorted(p.name for p in log_dir.iterdir() if p.name.startswith("app.log"))
    assert names == ["app.log", "app.log.1", "app.log.2", "app.log.3", "app.log.4", "app.log.5"]
    assert "line 0399" in read(log_dir / "app.log")


def test_several_writers_at_once_lose_no_line(configured):
    log_dir = configured()
    log = logging.getLogger("wetech.test")

    def write(worker):
        for n in range(200):
            log.info("worker %d line %d", worker, n)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = [line for line in read(log_dir / "app.log").splitlines() if "worker" in line]
    assert len(lines) == 800


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_djangos_request_log_lines_carry_no_credential_path(configured, rf, fmt):
    from django.http import HttpResponse, HttpResponseNotFound
    from django.utils.log import log_response

    log_dir = configured(fmt=fmt)
    secret = "Zk3-callback-secret-0123456789abcdefghij"
    token = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C"
    callback = rf.post(f"/payments/azampay/callback/{secret}/")
    invoice = rf.get(f"/invoices/{token}/status/")

    # Exactly what Django's handler does for a 4xx, and for a 500 with its traceback.
    log_response(
        "%s: %s", "Not Found", callback.path, response=HttpResponseNotFound(), request=callback
    )
    try:
        raise RuntimeError(f"failed on http://testserver{invoice.path}")
    except RuntimeError as exc:
        log_response(
            "%s: %s",
            "Internal Server Error",
            invoice.path,
            response=HttpResponse(status=500),
            request=invoice,
            exception=exc,
        )

    text = read(log_dir / "app.log") + read(log_dir / "errors.log")
    assert secret not in text and token not in text
    assert "Not Found: /payments/azampay/callback/[redacted]/" in text
    assert "Internal Server Error: /invoices/[redacted]/status/" in text
    assert "RuntimeError: failed on http://testserver/invoices/[redacted]/status/" in text
    if fmt == "json":
        record = json.loads(read(log_dir / "errors.log").strip().splitlines()[-1])
        assert record["request"] == "<WSGIRequest: GET '/invoices/[redacted]/status/'>"
        assert record["status_code"] == 500


def test_the_development_servers_request_lines_carry_no_credential_path(configured):
    from django.core.servers.basehttp import WSGIRequestHandler

    log_dir = configured()
    secret = "Zk3-callback-secret-0123456789abcdefghij"
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)  # runserver's, without a socket
    handler.request = None

    handler.log_message(
        '"%s" %s %s', f"POST /payments/azampay/callback/{secret}/ HTTP/1.1", "404", "2"
    )

    text = read(log_dir / "app.log")
    assert secret not in text
    assert '"POST /payments/azampay/callback/[redacted]/ HTTP/1.1" 404 2' in text
