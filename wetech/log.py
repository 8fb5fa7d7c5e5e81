"""Logging pieces referenced from settings.LOGGING: request-id stamping, redaction, JSON lines.

Kept free of Django model imports so settings can build the configuration before apps load.
"""

import functools
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from types import NoneType

from wetech.redaction import is_personal_key, is_secret_key, redact, redact_text
from wetech.request_context import get_request_id

# Attributes every LogRecord has; anything else was passed through `extra=` and is worth keeping.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "request_id", "taskName", "redacted"}
)


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served ("-" outside a request)."""

    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = get_request_id() or "-"
        return True


@functools.lru_cache(maxsize=512)
def _sensitive_key(key: str) -> bool:
    return is_secret_key(key) or is_personal_key(key)


# Extras that are plain data stay as they are (redacted); anything else (Django's `request` on
# django.request and django.security records, a socket on django.server's) is turned into its
# redacted text here, or the JSON format would write its repr, path and credential included.
_PLAIN = (str, int, float, bool, NoneType, dict, list, tuple)
_exception_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Render the message once and mask phone numbers, card numbers, inline secrets and
    credential path segments in it, in its extras and in its traceback."""

    def filter(self, record):
        # Every handler runs this filter on the same record object: redact it only once
        # (doing it per handler was most of the cost of a request's log line).
        if getattr(record, "redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS:
                continue
            # Numbers under an ordinary name (durations, counts, status codes) cannot hide a
            # secret; a number under a phone- or secret-like name still goes through redact().
            if isinstance(value, int | float | NoneType) and not _sensitive_key(key):
                continue
            if not isinstance(value, _PLAIN):
                value = str(value)
            setattr(record, key, redact({key: value})[key])
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text: an exception's message may carry a URL or a secret.
            record.exc_text = redact_text(_exception_formatter.formatException(record.exc_info))
        record.redacted = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any extras."""

    def format(self, record):
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or get_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in payload:
                payload[key] = value
        if record.exc_text:
            payload["exception"] = record.exc_text
        elif record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def build_logging_config(*, log_dir: Path, level: str = "INFO", fmt: str = "text") -> dict:
    """The dictConfig for the site: console, logs/app.log (INFO+) and logs/errors.log (ERROR+).

    Files rotate at 10 MB keeping 5, through concurrent-log-handler so several gunicorn workers
    can write and rotate the same file without losing lines.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter = "json" if fmt == "json" else "text"
    file_handler = {
        "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
        "maxBytes": 10 * 1024 * 1024,
        "backupCount": 5,
        "encoding": "utf-8",
        "use_gzip": False,
        "formatter": formatter,
        "filters": ["request_id", "redact"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "wetech.log.RequestIdFilter"},
            "redact": {"()": "wetech.log.RedactingFilter"},
        },
        "formatters": {
            "text": {"format": TEXT_FORMAT},
            "json": {"()": "wetech.log.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["request_id", "redact"],
            },
            "app_file": {
                **file_handler,
                "level": "INFO",
                "filename": str(log_dir / "app.log"),
            },
            "error_file": {
                **file_handler,
                "level": "ERROR",
                "filename": str(log_dir / "errors.log"),
            },
        },
        "root": {"handlers": ["console", "app_file", "error_file"], "level": level},
        "loggers": {
            # Django logs 4xx as WARNING on django.request; keep them, they show abuse.
            "django": {"level": level, "propagate": True},
            "django.db.backends": {"level": "WARNING", "propagate": True},
            # gunicorn's own error log goes through the same handlers.
            "gunicorn.error": {"level": level, "propagate": True},
        },
    }
