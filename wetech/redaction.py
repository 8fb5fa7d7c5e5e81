"""Removing secrets and phone numbers from anything that leaves the process as text.

Used by the log filter, the gunicorn logger, the Sentry scrubber and the payment inbox (headers).
The rules are deliberately blunt: a false positive costs a masked digit run in a log line, a false
negative leaks a customer's number.
"""

import re
from collections.abc import Mapping

MASK = "[redacted]"

# Keys whose values are secret wherever they appear (headers, JSON bodies, settings, Sentry vars).
_SECRET_KEY_PARTS = (
    "secret",
    "password",
    "passwd",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "x-api-key",
    "cookie",
    "consumer_key",
    "client_id",
    "clientid",
    "session",
    "csrf",
    "dsn",
    "signature",
)
# Keys whose values are phone numbers or card data.
_PERSONAL_KEY_PARTS = (
    "phone",
    "msisdn",
    "accountnumber",
    "account_number",
    "payment_account",
    "card",
    "pan",
)

# Nine or more digits, optionally led by + and split by spaces or dashes: phone numbers (a local
# Tanzanian number has 9 or 10 digits), card numbers, national ids. Dates (8 digits) and amounts
# ("413000.00") are left readable. The last three digits stay visible so support can still match
# a record ("…678") without the log holding the number.
_DIGIT_RUN = re.compile(r"(?<![\w/-])\+?\d(?:[ -]?\d){8,}(?![\w/])")
# Bearer tokens and key=value secrets inside free text.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_KEY_VALUE = re.compile(
    r"(?i)\b((?:consumer_)?(?:secret|password|token|api[_-]?key|client[_-]?secret)[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"'&,;}]+"
)


# URL path segments that are credentials: the AzamPay callback's secret and an invoice's public
# token. Masked by position, whatever the segment holds, so every configured secret (the setting
# may list several while one is rotated) and every wrong guess is masked, not only a known value.
_CREDENTIAL_SEGMENT = re.compile(r'(?i)(/payments/azampay/callback/|/invoices/)[^/\s?#"<>]+')
_CREDENTIAL_PREFIXES = ("/payments/azampay/callback/", "/invoices/")


def mask_credential_paths(text: str) -> str:
    """`/payments/azampay/callback/<secret>/` and `/invoices/<token>/…` with that segment masked."""
    if not text or "/" not in text:
        return text
    lowered = text.lower()
    if not any(prefix in lowered for prefix in _CREDENTIAL_PREFIXES):
        return text
    return _CREDENTIAL_SEGMENT.sub(r"\1" + MASK, text)


def mask_digits(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - 3) + digits[-3:]


def redact_text(text: str) -> str:
    """Mask digit runs that may be phone or card numbers, inline secrets and credential paths."""
    if not text:
        return text
    text = mask_credential_paths(text)
    text = _BEARER.sub(r"\1 " + MASK, text)
    text = _KEY_VALUE.sub(r"\1" + MASK, text)
    return _DIGIT_RUN.sub(mask_digits, text)


def is_secret_key(key: str) -> bool:
    lowered = str(key).lower()
    return any(part in lowered for part in _SECRET_KEY_PARTS)


def is_personal_key(key: str) -> bool:
    lowered = str(key).lower().replace("-", "_")
    return any(part in lowered for part in _PERSONAL_KEY_PARTS)


def redact_value(key, value):
    """Redact one value given the key it sits under."""
    if is_secret_key(key):
        return MASK
    if is_personal_key(key) and isinstance(value, str | int):
        digits = re.sub(r"\D", "", str(value))
        return ("*" * max(len(digits) - 3, 0) + digits[-3:]) if digits else MASK
    return redact(value)


def redact(value):
    """Deep-copy `value` with secrets and phone numbers removed."""
    if isinstance(value, Mapping):
        return {k: redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def _mask_paths_everywhere(value):
    """Deep-copy `value` with credential path segments masked in every string it holds.

    Objects Sentry would send as their repr (Django's request on a log record's extras) become
    that repr, masked, when it carries a credential path; anything else is kept as it is.
    """
    if isinstance(value, str):
        return mask_credential_paths(value)
    if isinstance(value, Mapping):
        return {key: _mask_paths_everywhere(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_paths_everywhere(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = repr(value)
    masked = mask_credential_paths(text)
    return masked if masked != text else value


def _request_body_shape(data):
    """A request body reduced to its field names: names, emails, phone numbers and messages
    that visitors type never go to Sentry (the notification inbox keeps gateway callbacks)."""
    if isinstance(data, Mapping):
        return {key: MASK for key in data}
    if isinstance(data, str | bytes | list | tuple) and data:
        return MASK
    return data  # nothing, or Sentry's own note that the body was left out


def scrub_sentry_event(event, hint=None):
    """Sentry `before_send` and `before_send_transaction`: strip secrets, phone numbers, request
    bodies, cookies and the user from an event, and credential path segments from all of it."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("headers", "env"):
            if isinstance(request.get(part), Mapping):
                request[part] = redact(request[part])
        if "data" in request:
            request["data"] = _request_body_shape(request["data"])
        if isinstance(request.get("query_string"), str):
            request["query_string"] = redact_text(request["query_string"])
        request.pop("cookies", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = redact_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            if isinstance(frame.get("vars"), Mapping):
                frame["vars"] = redact(frame["vars"])
    if isinstance(event.get("logentry"), dict):
        for key in ("message", "formatted"):
            if isinstance(event["logentry"].get(key), str):
                event["logentry"][key] = redact_text(event["logentry"][key])
        if "params" in event["logentry"]:
            event["logentry"]["params"] = redact(event["logentry"]["params"])
    if isinstance(event.get("message"), str):
        event["message"] = redact_text(event["message"])
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = redact_text(crumb["message"])
        if isinstance(crumb.get("data"), Mapping):
            crumb["data"] = redact(crumb["data"])
    if isinstance(event.get("extra"), Mapping):
        event["extra"] = redact(event["extra"])
    if isinstance(event.get("contexts"), Mapping):
        event["contexts"] = redact(event["contexts"])
    event.pop("user", None)
    # Last, everywhere: request.url, the transaction name, spans, tags, breadcrumbs' data...
    return _mask_paths_everywhere(event)
