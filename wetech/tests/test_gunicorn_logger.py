from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from wetech.gunicorn_logger import RedactingLogger, redact_access_atoms


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
    atoms = {"U": "/invoices/abc/status/", "r": "GET /invoices/abc/status/ HTTP/1.1"}

    assert redact_access_atoms(dict(atoms)) == atoms


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
