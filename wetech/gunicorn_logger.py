"""gunicorn's access log without the AzamPay callback secret.

The secret is a path segment (`/payments/azampay/callback/<secret>/`), so a plain access log
would write it to disk on every callback. Set as `logger_class` in gunicorn.conf.py.
"""

import re

from gunicorn.glogging import Logger

_SECRET_PATH = re.compile(r"(/payments/azampay/callback/)[^/\s?]+")


def redact_access_atoms(atoms: dict) -> dict:
    """Mask the secret in every atom that may carry the path (request line, path, environ)."""
    for key, value in atoms.items():
        if isinstance(value, str) and "/payments/azampay/callback/" in value:
            atoms[key] = _SECRET_PATH.sub(r"\1[redacted]", value)
    return atoms


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        return redact_access_atoms(super().atoms(resp, req, environ, request_time))
