"""AzamPay: the client (token, mobile-money push, status query) and `AzamPayGateway`, the
push-to-phone gateway the payment pipeline sees.

Uses the legacy paths the official plugin, samples and every SDK use (`shared/docs/gateways.md`
Part B). Amounts go out as whole-shilling strings, phones as `255XXXXXXXXX`, currency TZS only,
providers from the exact enum. The callback carries the money news, so `parse_callback` is
strict about names but keeps every field it was given; it is read as JSON whatever its
Content-Type, with every number an exact Decimal (`60000.0` is 60000).

The status query (`get_transaction_status`) uses the newer partner endpoint
(`GET {checkout}/api/v1/partner/gettransactionstatus?transactionId=&provider=`, B8). It has
almost no public evidence behind it, so it runs only when `AZAMPAY_STATUS_QUERY` is on (off by
default, the simulator included), and when it fails the callback is judged as if it were off.
AzamPay's words (the callback's `transactionstatus`, the query's `data`) meet our
`PaymentStatus` in the two tables below, and nowhere else.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from wetech.json_input import UnreadableJSON
from wetech.json_input import loads as json_loads
from wetech.money import require_decimal, to_decimal
from wetech.payments.gateways.base import (
    AttemptRef,
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayRejected,
    MalformedNotification,
    ParsedNotification,
    PaymentFinding,
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
    PushLimits,
    StartedPayment,
)
from wetech.payments.gateways.clients import (
    missing_settings,
    require_settings,
    shared_client,
    transport_options,
)
from wetech.payments.gateways.http import AuthenticatedClient, json_body
from wetech.payments.gateways.retry import CircuitBreaker, RetryPolicy
from wetech.payments.gateways.tokens import TokenCache, parse_expiry
from wetech.payments.gateways.transport import HttpTransport

GATEWAY = "azampay"
logger = logging.getLogger("wetech.payments.gateways.azampay")

SETTINGS = (
    "AZAMPAY_AUTH_URL",
    "AZAMPAY_CHECKOUT_URL",
    "AZAMPAY_APP_NAME",
    "AZAMPAY_CLIENT_ID",
    "AZAMPAY_CLIENT_SECRET",
    "AZAMPAY_API_KEY",
    "AZAMPAY_CALLBACK_SECRET",
)
CURRENCY = "TZS"
PROVIDERS = ("Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa")
_PROVIDER_BY_LOWER = {provider.lower(): provider for provider in PROVIDERS}

# The official plugin's pattern: optional 0 / 255 / +255, then a Tanzanian mobile prefix.
_MSISDN = re.compile(r"(?:0|255|\+255)?((?:6[1-9]|7[1-8])\d{7})")
_MAX_EXTERNAL_ID = 128

# The callback's `transactionstatus`. Failure is spelled `failure` (docs, Dart SDK) or `failed`
# (official plugin); one integrator also sees `cancelled`. Only the exact lowercase `success`
# credits money (gateways.md trap 11): a failure word counts in any casing, a success word only
# exactly; anything else is not paid, pending a re-check.
_CALLBACK_STATUS = {
    "success": PaymentStatus.COMPLETED,
    "failure": PaymentStatus.FAILED,
    "failed": PaymentStatus.FAILED,
    "fail": PaymentStatus.FAILED,
    "cancelled": PaymentStatus.FAILED,
    "canceled": PaymentStatus.FAILED,
    "rejected": PaymentStatus.FAILED,
}

# The status query's `data` word, in any casing; anything unknown stays pending.
_QUERY_STATUS = {
    "success": PaymentStatus.COMPLETED,
    "successful": PaymentStatus.COMPLETED,
    "completed": PaymentStatus.COMPLETED,
    "pending": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
    "failure": PaymentStatus.FAILED,
    "cancelled": PaymentStatus.FAILED,
    "canceled": PaymentStatus.FAILED,
    "rejected": PaymentStatus.FAILED,
}


def callback_status(word: str) -> PaymentStatus:
    """Our state for a callback's `transactionstatus`."""
    exact = _CALLBACK_STATUS.get(word)
    if exact is not None:
        return exact
    folded = _CALLBACK_STATUS.get((word or "").strip().lower())
    return PaymentStatus.FAILED if folded is PaymentStatus.FAILED else PaymentStatus.PENDING


def query_status_word(word: str) -> PaymentStatus:
    """Our state for the status query's `data` word."""
    folded = (word or "").strip().lower()
    status = _QUERY_STATUS.get(folded)
    if status is None:
        logger.warning("azampay status word %r not understood; treating as pending", folded)
        return PaymentStatus.PENDING
    return status


@dataclass(frozen=True)
class MnoCheckoutRequest:
    """An AzamPay mobile-money push. `provider` is one of PROVIDERS."""

    external_id: str
    phone: str
    amount: Decimal
    currency: str
    provider: str

    def __post_init__(self):
        require_decimal("amount", self.amount)


@dataclass(frozen=True)
class MnoCheckout:
    """AzamPay queued the push. `transaction_id` is empty when AzamPay sent none (or "null")."""

    transaction_id: str
    message: str


@dataclass(frozen=True)
class AzamPayCallback:
    """AzamPay's server-to-server callback, parsed. `raw` keeps every field as received."""

    utility_ref: str
    transaction_status: str
    status: PaymentStatus
    reference: str
    amount: Decimal | None
    msisdn: str
    operator: str
    mno_reference: str
    external_reference: str
    message: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class AzamPayStatus:
    """AzamPay's status query answer, its `data` word already mapped to a PaymentStatus."""

    transaction_id: str
    status: PaymentStatus
    message: str
    raw: dict = field(repr=False, compare=False)


def normalize_msisdn(phone: str) -> str:
    """A Tanzanian mobile number as `255XXXXXXXXX`; ValueError for anything else."""
    compact = re.sub(r"[\s().-]", "", phone or "")
    match = _MSISDN.fullmatch(compact)
    if not match:
        raise ValueError("not a Tanzanian mobile number")
    return f"255{match.group(1)}"


def canonical_provider(provider: str) -> str:
    """The exact enum spelling AzamPay expects (`Mpesa`, not `MPESA`); ValueError otherwise."""
    try:
        return _PROVIDER_BY_LOWER[(provider or "").strip().lower()]
    except KeyError:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}") from None


def azampay_amount(amount: Decimal) -> str:
    """Whole shillings as an integer string ("413000"); TZS has no usable minor unit."""
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    if amount <= 0 or amount != amount.to_integral_value():
        raise ValueError("AzamPay takes a positive whole number of shillings")
    return str(int(amount))


def _check_external_id(external_id: str, limit: int) -> str:
    if not external_id or len(external_id) > limit or not external_id.isascii():
        raise ValueError(f"external id must be 1-{limit} ASCII characters")
    return external_id


def _message(payload) -> str:
    """AzamPay's own words: `message`/`msg`, or an ASP.NET problem document's field errors."""
    if not isinstance(payload, dict):
        return ""
    errors = payload.get("errors")
    if isinstance(errors, dict) and errors:
        details = "; ".join(
            f"{name}: {' '.join(map(str, problems if isinstance(problems, list) else [problems]))}"
            for name, problems in errors.items()
        )
        return f"{payload.get('title') or 'Validation failed'} ({details})"
    return str(payload.get("message") or payload.get("msg") or payload.get("title") or "")


def _field_text(fields: dict, *names: str) -> str:
    for name in names:
        value = fields.get(name)
        if value is not None and not isinstance(value, dict | list) and str(value).strip():
            return str(value).strip()
    return ""


def parse_callback(data) -> AzamPayCallback:
    """Parse AzamPay's callback body (documented or captured field set, any key casing).

    Raises ValueError for a body that is not an object, lacks `utilityref` or
    `transactionstatus`, or carries an amount that is not an exact number (a float is refused:
    parse the JSON with `parse_float=Decimal`).
    """
    if hasattr(data, "dict") and callable(data.dict):
        data = data.dict()
    if not isinstance(data, Mapping):
        raise ValueError("callback body must be a JSON object")
    raw = dict(data)
    fields = {str(key).lower(): value for key, value in raw.items()}
    utility_ref = _field_text(fields, "utilityref")
    transaction_status = _field_text(fields, "transactionstatus")
    if not utility_ref:
        raise ValueError("callback has no utilityref")
    if not transaction_status:
        raise ValueError("callback has no transactionstatus")
    amount_value = fields.get("amount")
    try:
        amount = None if amount_value in (None, "") else to_decimal(amount_value)
    except TypeError as exc:
        raise ValueError("callback amount is not an exact number") from exc
    return AzamPayCallback(
        utility_ref=utility_ref,
        transaction_status=transaction_status,
        status=callback_status(transaction_status),
        reference=_field_text(fields, "reference", "transid", "externalreference"),
        amount=amount,
        msisdn=_field_text(fields, "msisdn"),
        operator=_field_text(fields, "operator"),
        mno_reference=_field_text(fields, "mnoreference", "fspreferenceid"),
        external_reference=_field_text(fields, "externalreference"),
        message=_field_text(fields, "message"),
        raw=raw,
    )


class AzamPayClient(AuthenticatedClient):
    gateway = GATEWAY
    label = "AzamPay"

    def __init__(
        self,
        *,
        auth_url: str,
        checkout_url: str,
        app_name: str,
        client_id: str,
        client_secret: str,
        api_key: str = "",
        status_query: bool = False,
        request_origin: str = "",
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        session=None,
    ):
        self.auth_url = auth_url.rstrip("/")
        self.checkout_url = checkout_url.rstrip("/")
        self.app_name = app_name
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_key = api_key
        self.status_query = status_query
        self.request_origin = request_origin
        self.transport = HttpTransport(
            gateway=GATEWAY,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            policy=policy or RetryPolicy(),
            breaker=breaker,
            session=session,
        )
        self.tokens = TokenCache(
            gateway=GATEWAY, identity=f"{self.auth_url}|{self.checkout_url}|{client_id}"
        )

    def __repr__(self):
        return f"AzamPayClient({self.checkout_url!r})"

    def _base_headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        return headers

    # --- tokens and plumbing --------------------------------------------------------------------

    def _fetch_token(self):
        response = self.transport.send(
            "POST",
            f"{self.auth_url}/AppRegistration/GenerateToken",
            action="GenerateToken",
            idempotent=True,
            headers=self._base_headers(),
            json={
                "appName": self.app_name,
                "clientId": self._client_id,
                "clientSecret": self._client_secret,
            },
        )
        payload = json_body(response)
        data = payload.get("data") if isinstance(payload, dict) else None
        token = data.get("accessToken") if isinstance(data, dict) else None
        if response.status_code >= 400 or not token:
            raise GatewayMisconfigured(
                "AzamPay refused the app credentials: "
                f"{_message(payload) or f'HTTP {response.status_code}'}",
                gateway=GATEWAY,
            )
        expires = data.get("expire") or data.get("expireAt") or payload.get("expireAt")
        return str(token), parse_expiry(expires)

    def _headers(self, token: str) -> dict:
        return {**self._base_headers(), "Authorization": f"Bearer {token}"}

    def _rejected(self, action, response, payload, code="") -> GatewayRejected:
        logger.warning(
            "azampay %s rejected: HTTP %s",
            action,
            response.status_code,
            extra={"gateway": GATEWAY, "action": action},
        )
        return GatewayRejected(
            _message(payload) or f"AzamPay {action} answered HTTP {response.status_code}",
            gateway=GATEWAY,
            code=code or ("validation_error" if response.status_code == 400 else ""),
        )

    # --- collections ----------------------------------------------------------------------------

    def mno_checkout(self, request: MnoCheckoutRequest) -> MnoCheckout:
        """Push a mobile-money prompt to the payer's phone. The result comes by callback."""
        if request.currency.upper() != CURRENCY:
            raise ValueError("AzamPay collects TZS only")
        body = {
            "accountNumber": normalize_msisdn(request.phone),
            "amount": azampay_amount(request.amount),
            "currency": CURRENCY,
            "externalId": _check_external_id(request.external_id, _MAX_EXTERNAL_ID),
            "provider": canonical_provider(request.provider),
        }
        response, payload = self._call(
            "POST",
            f"{self.checkout_url}/azampay/mno/checkout",
            action="MnoCheckout",
            creating=True,
            json=body,
        )
        if response.status_code >= 400:
            raise self._rejected("MnoCheckout", response, payload)
        if not isinstance(payload, dict):
            raise GatewayOutcomeUnknown(
                "AzamPay answered MnoCheckout with something that is not JSON", gateway=GATEWAY
            )
        if payload.get("success") is not True:
            raise self._rejected("MnoCheckout", response, payload)
        transaction_id = str(payload.get("transactionId") or "").strip()
        if transaction_id.lower() == "null":
            transaction_id = ""
        if not transaction_id:
            logger.warning("azampay push for %s queued without a transactionId", body["externalId"])
        logger.info(
            "azampay push for %s queued as %s",
            body["externalId"],
            transaction_id or "-",
            extra={"external_id": body["externalId"], "transaction_id": transaction_id},
        )
        return MnoCheckout(transaction_id=transaction_id, message=str(payload.get("message") or ""))

    def get_transaction_status(self, transaction_id: str, provider: str) -> AzamPayStatus:
        if not self.status_query:
            raise GatewayMisconfigured(
                "the AzamPay status query is off (AZAMPAY_STATUS_QUERY)", gateway=GATEWAY
            )
        response, payload = self._call(
            "GET",
            f"{self.checkout_url}/api/v1/partner/gettransactionstatus",
            action="GetTransactionStatus",
            creating=False,
            params={"transactionId": transaction_id, "provider": canonical_provider(provider)},
        )
        if response.status_code >= 400 or not isinstance(payload, dict):
            raise self._rejected("GetTransactionStatus", response, payload)
        if payload.get("success") is not True:
            raise self._rejected("GetTransactionStatus", response, payload)
        return AzamPayStatus(
            transaction_id=transaction_id,
            status=query_status_word(str(payload.get("data") or "")),
            message=str(payload.get("message") or ""),
            raw=payload,
        )


# --- this site's client -------------------------------------------------------------------------


def _build_client() -> AzamPayClient:
    require_settings(GATEWAY, SETTINGS)
    return AzamPayClient(
        auth_url=settings.AZAMPAY_AUTH_URL,
        checkout_url=settings.AZAMPAY_CHECKOUT_URL,
        app_name=settings.AZAMPAY_APP_NAME,
        client_id=settings.AZAMPAY_CLIENT_ID,
        client_secret=settings.AZAMPAY_CLIENT_SECRET,
        api_key=settings.AZAMPAY_API_KEY,
        status_query=settings.AZAMPAY_STATUS_QUERY,
        request_origin=settings.SITE_URL,
        **transport_options(GATEWAY),
    )


def get_azampay_client() -> AzamPayClient:
    """This process's AzamPay client; GatewayMisconfigured names every missing setting."""
    return shared_client(GATEWAY, _build_client)


# --- the gateway the payment pipeline sees ------------------------------------------------------


def _callback_finding(callback: AzamPayCallback) -> PaymentFinding:
    return PaymentFinding(
        status=callback.status,
        amount=callback.amount,
        # AzamPay collects TZS only (gateways.md B3); the callback names no currency.
        currency=CURRENCY,
        merchant_reference=callback.utility_ref,
        # The callback's own reference only: one that omits it must not borrow ours and pass.
        gateway_reference=callback.reference,
        confirmation_code=callback.mno_reference,
        payment_method=callback.operator,
        detail=f"AzamPay callback: {callback.transaction_status} {callback.message}".strip(),
    )


class AzamPayGateway(PaymentGateway):
    """A mobile-money push; the callback (behind the secret path) carries the news, under the
    trust rules of gateways.md B7."""

    name = GATEWAY
    label = "AzamPay"
    push_to_phone = True
    # The push may have reached the phone; its callback will carry our reference.
    pending_after_unknown_start = True
    # No refund API for collections: staff send the money back by hand and record the
    # mobile-money reference of that transfer.
    supports_refund_api = False

    def is_configured(self) -> bool:
        return not missing_settings(SETTINGS)

    def accepts(self, *, currency: str, total: Decimal) -> bool:
        # Whole Tanzanian shillings only (gateways.md B3).
        return currency == CURRENCY and total == total.to_integral_value()

    def start(self, request: PaymentRequest) -> StartedPayment:
        checkout = get_azampay_client().mno_checkout(
            MnoCheckoutRequest(
                external_id=request.merchant_reference,
                phone=request.phone,
                amount=request.amount,
                currency=request.currency,
                provider=request.provider,
            )
        )
        return StartedPayment(
            gateway_reference=checkout.transaction_id,
            detail="Waiting for the customer to approve the prompt",
        )

    def can_query_status(self, ref: AttemptRef) -> bool:
        return bool(settings.AZAMPAY_STATUS_QUERY and ref.gateway_reference)

    def query_status(self, ref: AttemptRef) -> PaymentFinding:
        answer = get_azampay_client().get_transaction_status(ref.gateway_reference, ref.provider)
        # Our own query about the transaction WE created: its amount is the one we pushed.
        return PaymentFinding(
            status=answer.status,
            amount=ref.amount,
            currency=CURRENCY,
            merchant_reference=ref.merchant_reference,
            gateway_reference=ref.gateway_reference,
            payment_method=ref.provider,
            detail=f"AzamPay status: {answer.message or answer.status}",
        )

    def parse_notification(self, *, query_string: str, body: str) -> ParsedNotification:
        # JSON whatever the Content-Type said (it is undocumented), every number a Decimal.
        try:
            callback = parse_callback(json_loads(body or "null", parse_float=Decimal))
        except UnreadableJSON as exc:
            raise MalformedNotification(str(exc)) from exc
        except ValueError as exc:
            raise MalformedNotification(str(exc) or "the callback could not be read") from exc
        return ParsedNotification(
            lookup_field="merchant_reference",
            lookup_value=callback.utility_ref,
            merchant_reference=callback.utility_ref,
            finding=_callback_finding(callback),
        )

    def judge(
        self, parsed: ParsedNotification, ref: AttemptRef, queried: PaymentFinding | None
    ) -> PaymentFinding | None:
        """With the status query's answer, it decides the state and the callback supplies the
        amount and references to check; without one (off, or it failed) the callback, already
        past the secret path and the checks in settlement, is all there is, and the daily
        reconciliation is the safety net."""
        news = parsed.finding
        if news is None or queried is None:
            return queried or news
        return PaymentFinding(
            status=queried.status,
            amount=news.amount,
            currency=news.currency,
            merchant_reference=news.merchant_reference,
            gateway_reference=news.gateway_reference,
            confirmation_code=news.confirmation_code,
            payment_method=news.payment_method or ref.provider,
            detail=queried.detail,
        )

    def acknowledge(
        self, parsed: ParsedNotification, *, processed: bool, result: str
    ) -> tuple[int, dict]:
        if not processed:
            # Not applied yet: let AzamPay retry; the inbox keeps the message.
            return 503, {"success": False, "message": "Temporarily unable to process"}
        return 200, {"success": True, "message": "Received", "result": result}

    def push_limits(self) -> PushLimits:
        return PushLimits(
            per_invoice=settings.AZAMPAY_PUSHES_PER_INVOICE,
            per_invoice_minutes=settings.AZAMPAY_PUSHES_PER_INVOICE_MINUTES,
            per_phone=settings.AZAMPAY_PUSHES_PER_PHONE,
            per_phone_minutes=settings.AZAMPAY_PUSHES_PER_PHONE_MINUTES,
        )
