"""Do the gateways still answer in the shapes we built for? (`manage.py gateway_check`)

Nobody who wrote the clients or the simulators could reach Pesapal or AzamPay; the simulators
answer what the public evidence says (shared/docs/gateways.md). This gives the first operator with
sandbox keys a way to confirm or correct that in minutes: make the harmless calls with the
configured credentials, and compare each answer's SHAPE (HTTP status, field names, JSON types,
status words) with the committed files in `shapes/`, which a sandbox test keeps equal to what the
simulators answer (so `wetech` never imports `sandbox`).

The shape files use a small part of JSON Schema's vocabulary, read strictly: `type` (one JSON
type or a list), `properties` (every field that may appear: any other is reported), `required`
(the fields that must appear), `items` (the shape of every array item) and `enum` (the status
words seen; a field without `enum` may hold any value of its type).

Raw HTTP through `requests`, on purpose: the clients turn answers into our types and refuse odd
ones, while this wants the JSON exactly as the gateway sent it. It is a diagnostic, not the
payment path: one attempt per call, no retry, no breaker. Nothing prints a token, a key or any
value except the status words that the shapes list.
"""

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings

from wetech.money import wire_number

SHAPES_DIR = Path(__file__).resolve().parent / "shapes"
GATEWAYS = ("pesapal", "azampay")
REQUIRED_SETTINGS = {
    "pesapal": ("PESAPAL_BASE_URL", "PESAPAL_CONSUMER_KEY", "PESAPAL_CONSUMER_SECRET"),
    "azampay": (
        "AZAMPAY_AUTH_URL",
        "AZAMPAY_CHECKOUT_URL",
        "AZAMPAY_APP_NAME",
        "AZAMPAY_CLIENT_ID",
        "AZAMPAY_CLIENT_SECRET",
    ),
}
# The smallest orders --create places: Pesapal takes two decimals; AzamPay documents no minimum
# and its public samples collect TZS 1,000.
PESAPAL_SMALLEST_AMOUNT = Decimal("1.00")
AZAMPAY_SMALLEST_AMOUNT = "1000"
AZAMPAY_PROVIDERS = ("Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa")
_MSISDN = re.compile(r"255\d{9}")

# JSON types in the order the shape files list them.
JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")


# --- shapes ---------------------------------------------------------------------------------------


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _types(shape: dict) -> list[str]:
    declared = shape.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _with_types(shape: dict, types: Iterable[str]) -> dict:
    ordered = [name for name in JSON_TYPES if name in set(types)]
    return {**shape, "type": ordered[0] if len(ordered) == 1 else ordered}


def _word_key(value) -> tuple[str, str]:
    return json_type(value), json.dumps(value)


def _field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _item(path: str) -> str:
    return f"{path}[]"


def shape_extract(value, *, words: Iterable[str] = (), path: str = "") -> dict:
    """The shape of one JSON value; the fields at `words` (paths) also keep their value."""
    words = frozenset(words)
    shape = _with_types({}, [json_type(value)])
    if isinstance(value, dict):
        shape["properties"] = {
            name: shape_extract(item, words=words, path=_field(path, name))
            for name, item in sorted(value.items())
        }
        shape["required"] = sorted(value)
    elif isinstance(value, list):
        items = [shape_extract(item, words=words, path=_item(path)) for item in value]
        if items:
            merged = items[0]
            for item in items[1:]:
                merged = shape_merge(merged, item)
            shape["items"] = merged
    elif value is not None and path in words:
        shape["enum"] = [value]
    return shape


def shape_merge(first: dict, second: dict) -> dict:
    """One shape that both shapes' values fit: types, fields and words joined."""
    merged = _with_types({}, [*_types(first), *_types(second)])
    if "properties" in first or "properties" in second:
        mine, theirs = first.get("properties", {}), second.get("properties", {})
        merged["properties"] = {
            name: shape_merge(mine[name], theirs[name])
            if name in mine and name in theirs
            else mine.get(name) or theirs[name]
            for name in sorted({*mine, *theirs})
        }
        both_objects = "properties" in first and "properties" in second
        required = (
            set(first["required"]) & set(second["required"])
            if both_objects
            else set(first.get("required") or second.get("required"))
        )
        merged["required"] = sorted(required)
    if "items" in first or "items" in second:
        if "items" in first and "items" in second:
            merged["items"] = shape_merge(first["items"], second["items"])
        else:
            merged["items"] = first.get("items") or second["items"]
    if "enum" in first or "enum" in second:
        values = {_word_key(v): v for v in [*first.get("enum", []), *second.get("enum", [])]}
        merged["enum"] = [values[key] for key in sorted(values)]
    return merged


def shape_words(shape: dict, path: str = "") -> set[str]:
    """The paths of the fields whose values are status words (`enum`) in a shape."""
    found = {path} if "enum" in shape else set()
    for name, child in shape.get("properties", {}).items():
        found |= shape_words(child, _field(path, name))
    if "items" in shape:
        found |= shape_words(shape["items"], _item(path))
    return found


def _word(value) -> str:
    return json.dumps(value, ensure_ascii=True)


def shape_compare(shape: dict, value, path: str = "") -> list[str]:
    """How a JSON value differs from a shape, one sentence each (empty: it fits)."""
    where = f"field {path}" if path else "body"
    types, got = _types(shape), json_type(value)
    if got not in types:
        return [f"{where}: expected {' or '.join(types)}, got {got}"]
    differences = []
    if (
        "enum" in shape
        and value is not None
        and _word_key(value) not in set(map(_word_key, shape["enum"]))
    ):
        known = ", ".join(_word(word) for word in shape["enum"])
        differences.append(f"{where}: unexpected word {_word(value)} (known: {known})")
    if isinstance(value, dict):
        properties = shape.get("properties", {})
        for name in shape.get("required", []):
            if name not in value:
                differences.append(f"field {_field(path, name)}: missing")
        for name, item in value.items():
            if name in properties:
                differences.extend(shape_compare(properties[name], item, _field(path, name)))
            else:
                differences.append(
                    f"field {_field(path, name)}: not in the shape (got {json_type(item)})"
                )
    elif isinstance(value, list) and "items" in shape:
        seen = set()
        for item in value:
            for difference in shape_compare(shape["items"], item, _item(path)):
                if difference not in seen:
                    seen.add(difference)
                    differences.append(difference)
    return differences


def shapes_load(gateway: str, directory: Path = SHAPES_DIR) -> dict:
    """A gateway's committed shapes: {call name: {"http_status": [...], "body": shape}}."""
    return json.loads((Path(directory) / f"{gateway}.json").read_text())["calls"]


# --- answers --------------------------------------------------------------------------------------


NOT_JSON = object()


@dataclass(frozen=True)
class GatewayAnswer:
    """One call's answer as the gateway sent it: `body` is NOT_JSON when it was not JSON."""

    call: str
    http_status: int
    body: object

    def field(self, name: str):
        return self.body.get(name) if isinstance(self.body, dict) else None


def answer_compare(expected: dict, answer: GatewayAnswer) -> list[str]:
    differences = []
    if answer.http_status not in expected["http_status"]:
        known = " or ".join(map(str, expected["http_status"]))
        differences.append(f"HTTP status: expected {known}, got {answer.http_status}")
    if answer.body is NOT_JSON:
        differences.append(f"body: expected {' or '.join(_types(expected['body']))}, got text")
    else:
        differences.extend(shape_compare(expected["body"], answer.body))
    return differences


class CheckStopped(Exception):
    """The remaining calls cannot be made (no token, gateway unreachable): one-line reason."""


class ProbeHttp:
    """One attempt per call, the configured timeouts, answers kept in order."""

    def __init__(self):
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        self.timeout = (settings.GATEWAY_CONNECT_TIMEOUT, settings.GATEWAY_READ_TIMEOUT)
        self.answers: list[GatewayAnswer] = []

    def ask(self, call: str, method: str, url: str, **kwargs) -> GatewayAnswer:
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            raise CheckStopped(
                f"{call}: could not reach {urlsplit(url).netloc}: {type(exc).__name__}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = NOT_JSON
        answer = GatewayAnswer(call=call, http_status=response.status_code, body=body)
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        self.session.close()


class PesapalProbe:
    """Pesapal API 3.0's calls, raw (gateways.md Part A), with the configured credentials."""

    gateway = "pesapal"

    def __init__(self, http: ProbeHttp):
        self.http = http
        self.base_url = settings.PESAPAL_BASE_URL.rstrip("/")
        self.token = ""

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def request_token(self) -> GatewayAnswer:
        answer = self.http.ask(
            "RequestToken",
            "POST",
            f"{self.base_url}/api/Auth/RequestToken",
            json={
                "consumer_key": settings.PESAPAL_CONSUMER_KEY,
                "consumer_secret": settings.PESAPAL_CONSUMER_SECRET,
            },
        )
        token = answer.field("token")
        if not isinstance(token, str) or not token:
            raise CheckStopped("RequestToken: no token in the answer, so no other call was made")
        self.token = token
        return answer

    def ipn_list(self) -> GatewayAnswer:
        return self.http.ask(
            "GetIpnList",
            "GET",
            f"{self.base_url}/api/URLSetup/GetIpnList",
            headers=self.auth_headers(),
        )

    def register_ipn(self, url: str) -> GatewayAnswer:
        return self.http.ask(
            "RegisterIPN",
            "POST",
            f"{self.base_url}/api/URLSetup/RegisterIPN",
            headers=self.auth_headers(),
            json={"url": url, "ipn_notification_type": "GET"},
        )

    def submit_order(self, *, notification_id: str) -> GatewayAnswer:
        site = settings.SITE_URL.rstrip("/")
        email = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "gateway-check@example.com"
        return self.http.ask(
            "SubmitOrderRequest",
            "POST",
            f"{self.base_url}/api/Transactions/SubmitOrderRequest",
            headers=self.auth_headers(),
            json={
                "id": f"CHECK-{uuid.uuid4().hex[:12].upper()}",
                "currency": "TZS",
                "amount": wire_number(PESAPAL_SMALLEST_AMOUNT),
                "description": "gateway_check: the smallest possible order",
                "callback_url": f"{site}/payments/pesapal/callback/",
                "notification_id": notification_id,
                "billing_address": {"email_address": email, "phone_number": ""},
            },
        )

    def transaction_status(self, order_tracking_id: str, *, known: bool) -> GatewayAnswer:
        return self.http.ask(
            "GetTransactionStatus" if known else "GetTransactionStatus (unknown order)",
            "GET",
            f"{self.base_url}/api/Transactions/GetTransactionStatus",
            headers=self.auth_headers(),
            params={"orderTrackingId": order_tracking_id},
        )


class AzamPayProbe:
    """AzamPay's collection calls, raw (gateways.md Part B), with the configured credentials."""

    gateway = "azampay"

    def __init__(self, http: ProbeHttp):
        self.http = http
        self.auth_url = settings.AZAMPAY_AUTH_URL.rstrip("/")
        self.checkout_url = settings.AZAMPAY_CHECKOUT_URL.rstrip("/")
        self.token = ""

    def _headers(self) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if settings.AZAMPAY_API_KEY:
            headers["X-API-Key"] = settings.AZAMPAY_API_KEY
        return headers

    def generate_token(self) -> GatewayAnswer:
        answer = self.http.ask(
            "GenerateToken",
            "POST",
            f"{self.auth_url}/AppRegistration/GenerateToken",
            headers=self._headers(),
            json={
                "appName": settings.AZAMPAY_APP_NAME,
                "clientId": settings.AZAMPAY_CLIENT_ID,
                "clientSecret": settings.AZAMPAY_CLIENT_SECRET,
            },
        )
        data = answer.field("data")
        token = data.get("accessToken") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise CheckStopped("GenerateToken: no accessToken in the answer, so no other call")
        self.token = token
        return answer

    def mno_checkout(self, *, phone: str, provider: str) -> GatewayAnswer:
        return self.http.ask(
            "MnoCheckout",
            "POST",
            f"{self.checkout_url}/azampay/mno/checkout",
            headers=self._headers(),
            json={
                "accountNumber": phone,
                "amount": AZAMPAY_SMALLEST_AMOUNT,
                "currency": "TZS",
                "externalId": f"CHECK-{uuid.uuid4().hex[:12].upper()}",
                "provider": provider,
            },
        )

    def transaction_status(
        self, transaction_id: str, *, provider: str, known: bool
    ) -> GatewayAnswer:
        return self.http.ask(
            "GetTransactionStatus" if known else "GetTransactionStatus (unknown transaction)",
            "GET",
            f"{self.checkout_url}/api/v1/partner/gettransactionstatus",
            headers=self._headers(),
            params={"transactionId": transaction_id, "provider": provider},
        )


# --- the check ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    create: bool = False
    order_tracking_id: str = ""
    transaction_id: str = ""
    provider: str = "Azampesa"
    phone: str = ""


@dataclass
class ShapeReport:
    gateway: str
    # Each answer with its differences from the committed shape, in the order of the calls.
    results: list[tuple[GatewayAnswer, list[str]]] = field(default_factory=list)
    stopped: str = ""

    @property
    def differences(self) -> list[str]:
        return [
            f"{self.gateway} {answer.call}: {text}"
            for answer, found in self.results
            for text in found
        ]

    @property
    def agrees(self) -> bool:
        return not self.differences and not self.stopped

    def summary(self) -> str:
        """One line: how many differences, and why the calls stopped, if they did."""
        parts = []
        if self.differences:
            count = len(self.differences)
            parts.append(f"{count} difference{'' if count == 1 else 's'}")
        if self.stopped:
            parts.append(f"stopped at {self.stopped}")
        return f"{self.gateway}: {'; '.join(parts) or 'every shape agrees'}"

    def lines(self) -> list[str]:
        """What the command prints: one line per call that agrees, one per difference."""
        lines = []
        for answer, found in self.results:
            if found:
                lines.extend(f"{self.gateway} {answer.call}: {text}" for text in found)
            else:
                lines.append(f"{self.gateway} {answer.call}: HTTP {answer.http_status}, agrees")
        if self.stopped:
            lines.append(f"{self.gateway} stopped: {self.stopped}")
        return lines


def gateways_configured() -> list[str]:
    return [name for name in GATEWAYS if not gateway_missing_settings(gateway=name)]


def gateway_missing_settings(*, gateway: str) -> list[str]:
    return [name for name in REQUIRED_SETTINGS[gateway] if not getattr(settings, name, "")]


def _site_ipn_url() -> str:
    return f"{settings.SITE_URL.rstrip('/')}/payments/pesapal/ipn/"


def _registered_ipn_id(registrations) -> str:
    """This site's IPN registration in a GetIpnList answer, if any."""
    for item in registrations if isinstance(registrations, list) else []:
        if isinstance(item, dict) and item.get("url") == _site_ipn_url() and item.get("ipn_id"):
            return str(item["ipn_id"])
    return ""


def _pesapal_calls(http: ProbeHttp, options: CheckOptions) -> None:
    probe = PesapalProbe(http)
    probe.request_token()
    registrations = probe.ipn_list().body
    if options.order_tracking_id:
        probe.transaction_status(options.order_tracking_id, known=True)
    else:
        probe.transaction_status(str(uuid.uuid4()), known=False)
    if not options.create:
        return
    notification_id = settings.PESAPAL_IPN_ID or _registered_ipn_id(registrations)
    if not notification_id:
        notification_id = probe.register_ipn(_site_ipn_url()).field("ipn_id")
        if not isinstance(notification_id, str) or not notification_id:
            raise CheckStopped("RegisterIPN: no ipn_id in the answer, so no order was placed")
    tracking_id = probe.submit_order(notification_id=notification_id).field("order_tracking_id")
    if not isinstance(tracking_id, str) or not tracking_id:
        raise CheckStopped("SubmitOrderRequest: no order_tracking_id in the answer")
    probe.transaction_status(tracking_id, known=True)


def _azampay_calls(http: ProbeHttp, options: CheckOptions) -> None:
    probe = AzamPayProbe(http)
    probe.generate_token()
    if options.transaction_id:
        probe.transaction_status(options.transaction_id, provider=options.provider, known=True)
    else:
        probe.transaction_status(uuid.uuid4().hex, provider=options.provider, known=False)
    if not options.create:
        return
    created = probe.mno_checkout(phone=options.phone, provider=options.provider).field(
        "transactionId"
    )
    # Some answers reportedly carry the string "null" (gateways.md B3).
    if not isinstance(created, str) or created in ("", "null"):
        raise CheckStopped("MnoCheckout: no transactionId in the answer")
    probe.transaction_status(created, provider=options.provider, known=True)


_CALLS: dict[str, Callable[[ProbeHttp, CheckOptions], None]] = {
    "pesapal": _pesapal_calls,
    "azampay": _azampay_calls,
}


def gateway_shapes_check(
    *, gateway: str, options: CheckOptions = CheckOptions(), shapes_dir: Path = SHAPES_DIR
) -> ShapeReport:
    """Make `gateway`'s harmless calls (with `create`, one smallest order) and compare shapes.

    Raises ValueError for what the caller asked wrongly (unknown gateway, missing settings, an
    AzamPay order without a payer number): nothing was sent then.
    """
    if gateway not in GATEWAYS:
        raise ValueError(f"unknown gateway {gateway!r} (known: {', '.join(GATEWAYS)})")
    missing = gateway_missing_settings(gateway=gateway)
    if missing:
        raise ValueError(f"not configured: set {', '.join(missing)}")
    if options.provider not in AZAMPAY_PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(AZAMPAY_PROVIDERS)}")
    if gateway == "azampay" and options.create and not _MSISDN.fullmatch(options.phone):
        raise ValueError(
            "an AzamPay order needs --phone 255XXXXXXXXX: the number that gets the prompt"
        )
    shapes = shapes_load(gateway, shapes_dir)
    report = ShapeReport(gateway=gateway)
    http = ProbeHttp()
    try:
        _CALLS[gateway](http, options)
    except CheckStopped as exc:
        report.stopped = str(exc)
    finally:
        http.close()
    for answer in http.answers:
        expected = shapes.get(answer.call)
        found = (
            ["no committed shape for this call"]
            if expected is None
            else answer_compare(expected, answer)
        )
        report.results.append((answer, found))
    return report
