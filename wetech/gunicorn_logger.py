"""gunicorn's access and error logs without credentials in URL paths.

The AzamPay callback's secret and an invoice's token are path segments
(`/payments/azampay/callback/<secret>/`, `/invoices/<token>/`), so a plain access log would write
them to disk on every request, and gunicorn's error log writes request lines and URIs too
("Invalid request from ip=…", "Error handling request /…"). Both go through
`wetech.redaction.mask_credential_paths`. Set as `logger_class` in gunicorn.conf.py.
"""

import logging

from gunicorn.glogging import Logger

from wetech.redaction import mask_credential_paths


def redact_access_atoms(atoms: dict) -> dict:
    """Mask credential path segments in every atom that may carry a URL (request line, path,
    environ, the Referer header)."""
    for key, value in atoms.items():
        if isinstance(value, str):
            atoms[key] = mask_credential_paths(value)
    return atoms


_exception_formatter = logging.Formatter()


class CredentialPathFilter(logging.Filter):
    """Mask credential path segments in a record's message and traceback (gunicorn's error log)."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        masked = mask_credential_paths(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_credential_paths(
                _exception_formatter.formatException(record.exc_info)
            )
        return True


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # On the logger itself, so it holds for every handler: gunicorn's own (stderr or
        # --error-logfile) and the site's, where Django's LOGGING sends it once the app loads.
        # (The access log is masked through its atoms below.)
        if not any(isinstance(f, CredentialPathFilter) for f in self.error_log.filters):
            self.error_log.addFilter(CredentialPathFilter())

    def atoms(self, resp, req, environ, request_time):
        return redact_access_atoms(super().atoms(resp, req, environ, request_time))
