import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from wetech.gunicorn_logger import RedactingLogger, redact_access_atoms

SECRET = "s3cr3t-callback-path-token-0123456789abcdef"
TOKEN = "Inv0iceT0ken_abcdefghijklmnopqrstuvwxyz012345"


def test_the_azampay_callback_secret_never_reaches_the_access_log():
    atoms = {
        "r": "POST /payments/azampay/callback/s3cr3t-path-token/ HTTP/1.1",
        "U": "/payments/azampay/callback/s3cr3t-path-token/",
        "s": "200",
    }

    redacted = redact_access_atoms(atoms)

    assert "s3cr3t" not in repr(redacted)
    assert redacted["U"] == "/payments/azampay/callback/[redacted]/"
    assert redacted["s"] == "200"


def test_other_paths_are_logged_as_they_are():
    atoms = {"U": "/services/web/", "r": "GET /leads/thanks/?utm_source=x HTTP/1.1", "s": "200"}

    assert redact_access_atoms(dict(atoms)) == atoms


def test_invoice_tokens_are_masked_in_the_path_and_the_referer():
    atoms = {
        "r": f"GET /invoices/{TOKEN}/status/ HTTP/1.1",
        "U": f"/invoices/{TOKEN}/status/",
        "f": f"https://wetech.co.tz/invoices/{TOKEN}/",
        "{referer}i": f"https://wetech.co.tz/invoices/{TOKEN}/",
    }

    redacted = redact_access_atoms(atoms)

    assert TOKEN not in repr(redacted)
    assert redacted["U"] == "/invoices/[redacted]/status/"
    assert redacted["f"] == "https://wetech.co.tz/invoices/[redacted]/"


def test_the_logger_class_applies_it_to_real_gunicorn_atoms():
    logger = RedactingLogger(Config())
    request = SimpleNamespace(
        headers=[],
        method="POST",
        path="/payments/azampay/callback/topsecret/",
        query="",
        version=(1, 1),
        uri="/payments/azampay/callback/topsecret/",
    )
    response = SimpleNamespace(status="200 OK", response_length=2, headers=[], sent=2)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": request.uri,
        "PATH_INFO": request.path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))

    assert "topsecret" not in repr(atoms)


@pytest.fixture
def gunicorn_files(tmp_path):
    """A RedactingLogger writing its access and error logs to files, as gunicorn runs it;
    the global gunicorn loggers are put back afterwards."""
    saved = {
        name: (log.handlers[:], log.filters[:], log.propagate, log.level)
        for name in ("gunicorn.error", "gunicorn.access")
        for log in [logging.getLogger(name)]
    }
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("access_log_format", 'h "%(r)s" %(s)s "%(f)s" %(U)s')
    logger = RedactingLogger(cfg)
    yield logger, tmp_path
    for name, (handlers, filters, propagate, level) in saved.items():
        log = logging.getLogger(name)
        for handler in log.handlers:
            if handler not in handlers:
                handler.close()
        log.handlers, log.filters, log.propagate, log.level = handlers, filters, propagate, level


def _files(tmp_path) -> str:
    for name in ("gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.flush()
    return (tmp_path / "access.log").read_text() + (tmp_path / "error.log").read_text()


def test_gunicorns_access_and_error_log_files_hold_no_secret_and_no_token(gunicorn_files):
    logger, tmp_path = gunicorn_files
    uri = f"/payments/azampay/callback/{SECRET}/"
    request = SimpleNamespace(
        headers=[("REFERER", f"https://wetech.co.tz/invoices/{TOKEN}/")],
        method="POST",
        path=uri,
        query="",
        version=(1, 1),
        uri=uri,
    )
    response = SimpleNamespace(status="404 Not Found", response_length=2, headers=[], sent=2)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": uri,
        "PATH_INFO": uri,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://wetech.co.tz/invoices/{TOKEN}/",
    }

    logger.access(response, request, environ, timedelta(milliseconds=5))
    # What gunicorn's workers write for a request line it cannot parse, and for an app that raises.
    logger.warning(
        f"Invalid request from ip=127.0.0.1: Invalid HTTP request line: 'POST {uri} x HTTP/1.1'"
    )
    try:
        raise RuntimeError(f"failed on /invoices/{TOKEN}/pay/azampay/")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "POST", uri)

    text = _files(tmp_path)
    assert SECRET not in text and TOKEN not in text
    assert '"POST /payments/azampay/callback/[redacted]/ HTTP/1.1" 404' in text
    assert "Invalid request from ip=127.0.0.1" in text
    assert "Error handling request POST /payments/azampay/callback/[redacted]/" in text
    assert "RuntimeError: failed on /invoices/[redacted]/pay/azampay/" in text
