"""Pesapal API 3.0 client: tokens, IPN registration, orders, status, refunds, cancellation.

Translates between our dataclasses and Pesapal's JSON, tolerating the quirks in
`shared/docs/gateways.md` (Part A, Part D): `status` is a string, `error` may be an object of
nulls on success, its kind is `error_type` (docs say `type`), logical errors ride on HTTP 200,
and `status_code 0` with `payment_details_not_found` means pending, not invalid.
"""

import logging
from decimal import Decimal

from wetech.payments.gateways.base import (
    CENTS,
    COMPLETED,
    FAILED,
    INVALID,
    PENDING,
    REVERSED,
    GatewayMisconfigured,
    GatewayOutcomeUnknown,
    GatewayRejected,
    IpnRegistration,
    OrderRequest,
    OrderSession,
    TransactionStatus,
    check_merchant_reference,
    to_decimal,
    wire_number,
)
from wetech.payments.gateways.retry import CircuitBreaker, RetryPolicy
from wetech.payments.gateways.tokens import TokenCache, parse_expiry
from wetech.payments.gateways.transport import HttpTransport

GATEWAY = "pesapal"
logger = logging.getLogger("wetech.payments.gateways.pesapal")

PENDING_ERROR_CODE = "payment_details_not_found"
_AUTH_ERROR_CODES = frozenset(
    {
        "invalid_api_credentials_provided",
        "invalid_access_token",
        "token_expired",
        "unauthorized",
    }
)
_NOTIFICATION_TYPES = {0: "GET", 1: "POST"}

# The one status-mapping table: `status_code` first, the description (any casing) as fallback.
_STATUS_BY_CODE = {1: COMPLETED, 2: FAILED, 3: REVERSED}
_STATUS_BY_DESCRIPTION = {
    "completed": COMPLETED,
    "failed": FAILED,
    "reversed": REVERSED,
    "invalid": INVALID,
    "pending": PENDING,
}


def _json(response):
    """The body as JSON with every non-integer number as a Decimal; None when it is not JSON."""
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


def _error_of(payload) -> tuple[str, str, str] | None:
    """(error_type, code, message) when the body reports an error, else None.

    The fields are tested, not the key: success bodies may carry an `error` full of nulls.
    """
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        kind = error.get("error_type") or error.get("type") or ""
        code = error.get("code") or ""
        message = error.get("message") or ""
        if kind or code or message:
            return str(kind), str(code), str(message)
    status = payload.get("status")
    if status not in (None, "") and str(status) != "200":
        return "", "", str(payload.get("message") or f"status {status}")
    return None


def _carries_pesapal_error(response) -> bool:
    return _error_of(_json(response)) is not None


def _is_auth_error(response, payload) -> bool:
    if response.status_code == 401:
        return True
    error = _error_of(payload)
    if error is None:
        return False
    kind, code, message = error
    return (
        kind == "authentication_error"
        or code in _AUTH_ERROR_CODES
        or "access token" in message.lower()
    )


def _text(value) -> str:
    return "" if value is None else str(value)


def _registration(item: dict) -> IpnRegistration:
    notification_type = (
        item.get("ipn_notification_type_description")
        or _NOTIFICATION_TYPES.get(item.get("notification_type"))
        or item.get("ipn_notification_type")
        or ""
    )
    return IpnRegistration(
        ipn_id=_text(item.get("ipn_id")),
        url=_text(item.get("url")).strip(),
        notification_type=str(notification_type).upper(),
        raw=item,
    )


def map_status(payload: dict) -> str | None:
    """Our state for a GetTransactionStatus body, or None when it carries no status at all."""
    error = _error_of(payload)
    try:
        code = int(payload.get("status_code"))
    except (TypeError, ValueError):
        code = None
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    if error is not None and error[1] == PENDING_ERROR_CODE:
        return PENDING
    if code == 0:
        return INVALID
    description = _text(payload.get("payment_status_description")).strip().lower()
    return _STATUS_BY_DESCRIPTION.get(description)


class PesapalClient:
    gateway = GATEWAY

    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        session=None,
    ):
        self.base_url = base_url.rstrip("/")
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.transport = HttpTransport(
            gateway=GATEWAY,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            policy=policy or RetryPolicy(),
            breaker=breaker,
            session=session,
            answered_by_gateway=_carries_pesapal_error,
        )
        self.tokens = TokenCache(gateway=GATEWAY, identity=f"{self.base_url}|{consumer_key}")

    def __repr__(self):
        return f"PesapalClient({self.base_url!r})"

    # --- tokens ---------------------------------------------------------------------------------

    def request_token(self) -> str:
        """A valid access token, from the cache when it has more than a minute left."""
        return self.tokens.get(self._fetch_token)

    def _fetch_token(self):
        response = self.transport.send(
            "POST",
            f"{self.base_url}/api/Auth/RequestToken",
            action="RequestToken",
            idempotent=True,
            headers={"Content-Type": "application/json"},
            json={"consumer_key": self._consumer_key, "consumer_secret": self._consumer_secret},
        )
        payload = _json(response)
        error = _error_of(payload)
        token = payload.get("token") if isinstance(payload, dict) else None
        if response.status_code >= 400 or error is not None or not token:
            _, code, message = error or ("", "", "")
            reason = code or message or f"HTTP {response.status_code}"
            raise GatewayMisconfigured(
                f"Pesapal refused the consumer key/secret: {reason}",
                gateway=GATEWAY,
            )
        return str(token), parse_expiry(payload.get("expiryDate"))

    # --- plumbing -------------------------------------------------------------------------------

    def _call(self, method, path, *, action, creating, json=None, params=None):
        """Send an authenticated call; on an auth error fetch a new token and try once more."""
        for second_try in (False, True):
            response = self.transport.send(
                method,
                f"{self.base_url}{path}",
                action=action,
                idempotent=not creating,
                headers={
                    "Authorization": f"Bearer {self.request_token()}",
                    "Content-Type": "application/json",
                },
                json=json,
                params=params,
            )
            payload = _json(response)
            if not _is_auth_error(response, payload):
                return response, payload
            self.tokens.forget()
            if second_try:
                raise GatewayMisconfigured(
                    "Pesapal rejected a fresh access token (sandbox and live keys mixed up?)",
                    gateway=GATEWAY,
                )
            logger.info("pesapal %s: token rejected, fetching a new one", action)
        raise AssertionError("unreachable")

    def _raise_for_answer(self, response, payload, action) -> None:
        error = _error_of(payload)
        if response.status_code < 400 and error is None:
            return
        _, code, message = error or ("", "", "")
        logger.warning(
            "pesapal %s rejected: HTTP %s code %s",
            action,
            response.status_code,
            code or "-",
            extra={"gateway": GATEWAY, "action": action, "code": code},
        )
        raise GatewayRejected(
            message or f"Pesapal {action} answered HTTP {response.status_code}",
            gateway=GATEWAY,
            code=code,
        )

    # --- IPN ------------------------------------------------------------------------------------

    def register_ipn(self, url: str, notification_type: str = "GET") -> IpnRegistration:
        notification_type = notification_type.upper()
        if notification_type not in ("GET", "POST"):
            raise ValueError("notification_type must be GET or POST")
        response, payload = self._call(
            "POST",
            "/api/URLSetup/RegisterIPN",
            action="RegisterIPN",
            creating=True,
            json={"url": url, "ipn_notification_type": notification_type},
        )
        self._raise_for_answer(response, payload, "RegisterIPN")
        registration = _registration(payload)
        if not registration.ipn_id:
            raise GatewayOutcomeUnknown(
                "Pesapal answered RegisterIPN without an ipn_id", gateway=GATEWAY
            )
        logger.info("pesapal IPN registered: %s", registration.ipn_id)
        return registration

    def list_ipns(self) -> list[IpnRegistration]:
        response, payload = self._call(
            "GET", "/api/URLSetup/GetIpnList", action="GetIpnList", creating=False
        )
        if isinstance(payload, list) and response.status_code < 400:
            return [
                _registration(item)
                for item in payload
                if isinstance(item, dict) and item.get("ipn_id")
            ]
        self._raise_for_answer(response, payload, "GetIpnList")
        raise GatewayRejected("Pesapal answered GetIpnList without a list", gateway=GATEWAY)

    def ensure_ipn(self, url: str, notification_type: str = "GET") -> IpnRegistration:
        """Reuse an active registration of exactly this URL, else register it."""
        for registration in self.list_ipns():
            active = registration.raw.get("ipn_status") in (None, 1, "1")
            if active and registration.url == url.strip():
                logger.info("pesapal IPN already registered: %s", registration.ipn_id)
                return registration
        return self.register_ipn(url, notification_type)

    # --- orders ---------------------------------------------------------------------------------

    def submit_order(self, order: OrderRequest) -> OrderSession:
        if order.amount <= 0:
            raise ValueError("amount must be positive")
        billing = order.billing
        if not (billing.email or billing.phone):
            raise ValueError("billing needs an email address or a phone number")
        body = {
            "id": check_merchant_reference(order.merchant_reference),
            "currency": order.currency.upper(),
            "amount": wire_number(order.amount),
            # Pesapal refuses descriptions over 100 characters; the text is display-only.
            "description": order.description[:100],
            "callback_url": order.callback_url,
            "notification_id": order.notification_id,
            "billing_address": {
                "email_address": billing.email,
                "phone_number": billing.phone,
                "country_code": billing.country_code,
                "first_name": billing.first_name,
                "middle_name": "",
                "last_name": billing.last_name,
                "line_1": "",
                "line_2": "",
                "city": "",
                "state": "",
                "postal_code": "",
                "zip_code": "",
            },
        }
        if order.cancellation_url:
            body["cancellation_url"] = order.cancellation_url
        response, payload = self._call(
            "POST",
            "/api/Transactions/SubmitOrderRequest",
            action="SubmitOrderRequest",
            creating=True,
            json=body,
        )
        self._raise_for_answer(response, payload, "SubmitOrderRequest")
        tracking_id = _text(payload.get("order_tracking_id") if payload else "")
        redirect_url = _text(payload.get("redirect_url") if payload else "")
        if not tracking_id or not redirect_url:
            raise GatewayOutcomeUnknown(
                "Pesapal answered SubmitOrderRequest without a tracking id", gateway=GATEWAY
            )
        logger.info(
            "pesapal order %s submitted as %s",
            order.merchant_reference,
            tracking_id,
            extra={"merchant_reference": order.merchant_reference, "tracking_id": tracking_id},
        )
        return OrderSession(
            order_tracking_id=tracking_id,
            merchant_reference=_text(payload.get("merchant_reference")) or order.merchant_reference,
            redirect_url=redirect_url,
        )

    def get_transaction_status(self, order_tracking_id: str) -> TransactionStatus:
        response, payload = self._call(
            "GET",
            "/api/Transactions/GetTransactionStatus",
            action="GetTransactionStatus",
            creating=False,
            params={"orderTrackingId": order_tracking_id},
        )
        status = map_status(payload) if isinstance(payload, dict) else None
        if status is None:
            self._raise_for_answer(response, payload, "GetTransactionStatus")
            raise GatewayRejected(
                "Pesapal answered GetTransactionStatus without a status", gateway=GATEWAY
            )
        try:
            amount = to_decimal(payload.get("amount") or 0)
            # "10.00", 10.0 and 10 are the same money; show it with the two decimals it has.
            if amount == amount.quantize(CENTS):
                amount = amount.quantize(CENTS)
        except (ValueError, ArithmeticError) as exc:
            raise GatewayRejected(
                "Pesapal answered GetTransactionStatus with an unreadable amount",
                gateway=GATEWAY,
            ) from exc
        logger.info(
            "pesapal status of %s: %s",
            order_tracking_id,
            status,
            extra={"tracking_id": order_tracking_id, "payment_status": status},
        )
        return TransactionStatus(
            order_tracking_id=_text(payload.get("order_tracking_id")) or order_tracking_id,
            merchant_reference=_text(payload.get("merchant_reference")),
            status=status,
            amount=amount,
            currency=_text(payload.get("currency")).upper(),
            confirmation_code=_text(payload.get("confirmation_code")),
            payment_method=_text(payload.get("payment_method")),
            payment_account=_text(payload.get("payment_account")),
            description=_text(payload.get("description")),
            raw=payload,
        )

    def refund(
        self, *, confirmation_code: str, amount: Decimal, username: str, remarks: str
    ) -> str:
        """Ask for a refund of a completed payment. Success only means "queued for approval"."""
        if not isinstance(amount, Decimal) or amount <= 0:
            raise ValueError("amount must be a positive Decimal")
        response, payload = self._call(
            "POST",
            "/api/Transactions/RefundRequest",
            action="RefundRequest",
            creating=True,
            json={
                "confirmation_code": confirmation_code,
                "amount": str(amount.quantize(CENTS)),
                "username": username,
                "remarks": remarks,
            },
        )
        self._raise_for_answer(response, payload, "RefundRequest")
        return _text(payload.get("message") if payload else "")

    def cancel_order(self, order_tracking_id: str) -> str:
        """Cancel a pending or failed order (once; never a processed payment)."""
        response, payload = self._call(
            "POST",
            "/api/Transactions/CancelOrder",
            action="CancelOrder",
            creating=True,
            json={"order_tracking_id": order_tracking_id},
        )
        self._raise_for_answer(response, payload, "CancelOrder")
        return _text(payload.get("message") if payload else "")
