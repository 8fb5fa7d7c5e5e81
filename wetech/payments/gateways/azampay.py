"""AzamPay client: token, mobile-money push, hosted checkout, callback parsing, status query.

Uses the legacy paths the official plugin, samples and every SDK use (`shared/docs/gateways.md`
Part B). Amounts go out as whole-shilling strings, phones as `255XXXXXXXXX`, currency TZS only,
providers from the exact enum. The callback carries the money news, so `parse_callback` is
strict about names but keeps every field it was given.

The status query (`get_transaction_status`) uses the newer partner endpoint
(`GET {checkout}/api/v1/partner/gettransactionstatus?transactionId=&provider=`, B8) and answers
an `AzamPayStatus`. It is unverified on live, so it runs only when `AZAMPAY_STATUS_QUERY` is on.
"""

import json
import logging
import re
from collections.abc import Mapping
from decimal import Decimal

from wetech.payments.gateways.base import (
    COMPLETED,
    FAILED,
    PENDING,
    AzamPayCallback,
    AzamPayStatus,
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayRejected,
    MnoCheckout,
    MnoCheckoutRequest,
    to_decimal,
)
from wetech.payments.gateways.retry import CircuitBreaker, RetryPolicy
from wetech.payments.gateways.tokens import TokenCache, parse_expiry
from wetech.payments.gateways.transport import HttpTransport

GATEWAY = "azampay"
logger = logging.getLogger("wetech.payments.gateways.azampay")

PROVIDERS = ("Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa")
_PROVIDER_BY_LOWER = {provider.lower(): provider for provider in PROVIDERS}

# The official plugin's pattern: optional 0 / 255 / +255, then a Tanzanian mobile prefix.
_MSISDN = re.compile(r"(?:0|255|\+255)?((?:6[1-9]|7[1-8])\d{7})")
_MAX_EXTERNAL_ID = 128
_MAX_CHECKOUT_EXTERNAL_ID = 30

# The one status-mapping table for the status query; anything unknown stays pending.
_STATUS_BY_WORD = {
    "success": COMPLETED,
    "successful": COMPLETED,
    "completed": COMPLETED,
    "pending": PENDING,
    "processing": PENDING,
    "failed": FAILED,
    "failure": FAILED,
    "cancelled": FAILED,
    "canceled": FAILED,
    "rejected": FAILED,
}


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


def _json(response):
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


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
    `transactionstatus`, or carries an amount that is not a number.
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
    amount = None if amount_value in (None, "") else to_decimal(amount_value)
    return AzamPayCallback(
        utility_ref=utility_ref,
        transaction_status=transaction_status,
        reference=_field_text(fields, "reference", "transid", "externalreference"),
        amount=amount,
        msisdn=_field_text(fields, "msisdn"),
        operator=_field_text(fields, "operator"),
        mno_reference=_field_text(fields, "mnoreference", "fspreferenceid"),
        external_reference=_field_text(fields, "externalreference"),
        message=_field_text(fields, "message"),
        raw=raw,
    )


class AzamPayClient:
    gateway = GATEWAY

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

    parse_callback = staticmethod(parse_callback)

    def _base_headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        return headers

    # --- tokens ---------------------------------------------------------------------------------

    def request_token(self) -> str:
        return self.tokens.get(self._fetch_token)

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
        payload = _json(response)
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

    # --- plumbing -------------------------------------------------------------------------------

    def _call(self, method, url, *, action, creating, json=None, params=None):
        """Send an authenticated call; on a 401 fetch a new token and try once more."""
        for second_try in (False, True):
            response = self.transport.send(
                method,
                url,
                action=action,
                idempotent=not creating,
                headers={
                    **self._base_headers(),
                    "Authorization": f"Bearer {self.request_token()}",
                },
                json=json,
                params=params,
            )
            if response.status_code != 401:
                return response
            self.tokens.forget()
            if second_try:
                raise GatewayMisconfigured("AzamPay rejected a fresh access token", gateway=GATEWAY)
            logger.info("azampay %s: token rejected, fetching a new one", action)
        raise AssertionError("unreachable")

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
        if request.currency.upper() != "TZS":
            raise ValueError("AzamPay collects TZS only")
        body = {
            "accountNumber": normalize_msisdn(request.phone),
            "amount": azampay_amount(request.amount),
            "currency": "TZS",
            "externalId": _check_external_id(request.external_id, _MAX_EXTERNAL_ID),
            "provider": canonical_provider(request.provider),
        }
        response = self._call(
            "POST",
            f"{self.checkout_url}/azampay/mno/checkout",
            action="MnoCheckout",
            creating=True,
            json=body,
        )
        payload = _json(response)
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

    def post_checkout(
        self,
        *,
        external_id: str,
        amount: Decimal,
        redirect_success_url: str,
        redirect_fail_url: str,
        item_name: str,
        vendor_name: str = "WeTech",
        vendor_id: str = "",
        language: str = "en",
    ) -> str:
        """Create a hosted checkout page; returns the URL to send the browser to."""
        body = {
            "appName": self.app_name,
            "clientId": self._client_id,
            "vendorId": vendor_id,
            "vendorName": vendor_name,
            "language": language,
            "currency": "TZS",
            "externalId": _check_external_id(external_id, _MAX_CHECKOUT_EXTERNAL_ID),
            "requestOrigin": self.request_origin,
            "redirectSuccessURL": redirect_success_url,
            "redirectFailURL": redirect_fail_url,
            "amount": azampay_amount(amount),
            "cart": {"items": [{"name": item_name}]},
        }
        response = self._call(
            "POST",
            f"{self.checkout_url}/api/v1/Partner/PostCheckout",
            action="PostCheckout",
            creating=True,
            json=body,
        )
        if response.status_code >= 400:
            raise self._rejected("PostCheckout", response, _json(response))
        # The body is a bare URL, sometimes JSON-quoted.
        text = response.text.strip()
        if text.startswith('"'):
            try:
                text = str(json.loads(text)).strip()
            except ValueError:
                text = text.strip('"')
        if text.startswith(("https://", "http://")):
            return text
        raise self._rejected("PostCheckout", response, _json(response), code="unexpected_answer")

    def get_transaction_status(self, transaction_id: str, provider: str) -> AzamPayStatus:
        if not self.status_query:
            raise GatewayMisconfigured(
                "the AzamPay status query is off (AZAMPAY_STATUS_QUERY)", gateway=GATEWAY
            )
        response = self._call(
            "GET",
            f"{self.checkout_url}/api/v1/partner/gettransactionstatus",
            action="GetTransactionStatus",
            creating=False,
            params={"transactionId": transaction_id, "provider": canonical_provider(provider)},
        )
        payload = _json(response)
        if response.status_code >= 400 or not isinstance(payload, dict):
            raise self._rejected("GetTransactionStatus", response, payload)
        if payload.get("success") is not True:
            raise self._rejected("GetTransactionStatus", response, payload)
        word = str(payload.get("data") or "").strip().lower()
        status = _STATUS_BY_WORD.get(word, PENDING)
        if word not in _STATUS_BY_WORD:
            logger.warning("azampay status word %r not understood; treating as pending", word)
        return AzamPayStatus(
            transaction_id=transaction_id,
            status=status,
            message=str(payload.get("message") or ""),
            raw=payload,
        )
