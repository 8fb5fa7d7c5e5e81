"""What every gateway client speaks: the error family, payment states and typed messages.

Clients translate between these dataclasses and each provider's HTTP; nothing here knows about
requests, the ORM or a Django request. Money is always `Decimal`.
"""

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Payment states, shared by every gateway's status mapping table.
PENDING = "pending"
COMPLETED = "completed"
FAILED = "failed"
REVERSED = "reversed"
INVALID = "invalid"

CENTS = Decimal("0.01")


class GatewayError(Exception):
    """Anything that went wrong talking to a payment gateway."""

    def __init__(self, message: str = "", *, gateway: str = ""):
        super().__init__(message)
        self.gateway = gateway
        self.message = message


class GatewayUnavailable(GatewayError):
    """Transient: outage, timeout, overload or an open circuit. Trying later may work.

    `retry_after` is the number of seconds the gateway asked us to wait, when it said so.
    """

    def __init__(self, message: str = "", *, gateway: str = "", retry_after: float | None = None):
        super().__init__(message, gateway=gateway)
        self.retry_after = retry_after


class GatewayOutcomeUnknown(GatewayUnavailable):
    """A creating call failed ambiguously (read timeout, dropped connection, 500/502/504).

    The gateway may have processed it: ask for the status or abandon the attempt and start a new
    one with a fresh reference; never resend it blindly.
    """


class GatewayRejected(GatewayError):
    """A definite refusal; `message` is the gateway's own words, `code` its code when given."""

    def __init__(self, message: str = "", *, gateway: str = "", code: str = ""):
        super().__init__(message, gateway=gateway)
        self.code = code


class GatewayMisconfigured(GatewayError):
    """Missing or wrong credentials or URLs: a person must fix settings, retrying will not help."""


def missing_settings_error(gateway: str, missing: list[str]) -> GatewayMisconfigured:
    return GatewayMisconfigured(
        f"{gateway} is not configured: set {', '.join(missing)}", gateway=gateway
    )


def to_decimal(value, *, what: str = "amount") -> Decimal:
    """A wire amount (JSON number parsed as Decimal, int or string) as a Decimal.

    Raises ValueError for anything that is not a finite number; a float is refused because it
    has already lost the exact value.
    """
    if isinstance(value, bool | float):
        raise ValueError(f"{what} must not be a float or boolean")
    try:
        number = Decimal(str(value).strip().replace(",", "")) if value is not None else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(f"{what} is not a number")
    return number


def wire_number(amount: Decimal) -> float:
    """The JSON number for an amount of money, for APIs whose schema says "Float".

    A 2-decimal value of at most 15 significant digits survives the float round trip exactly and
    `json.dumps` writes its shortest repr ("413000.0", "10.5"), so nothing is lost on the wire.
    """
    quantised = amount.quantize(CENTS, rounding=ROUND_HALF_UP)
    if len(quantised.as_tuple().digits) > 15:
        raise ValueError("amount too large to send as a JSON number")
    return float(quantised)


def _require_decimal(name: str, value) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")


@dataclass(frozen=True)
class BillingAddress:
    email: str
    phone: str
    first_name: str
    last_name: str
    country_code: str = "TZ"


@dataclass(frozen=True)
class OrderRequest:
    """A Pesapal order. `merchant_reference` must be new for every payment attempt."""

    merchant_reference: str
    amount: Decimal
    currency: str
    description: str
    callback_url: str
    notification_id: str
    billing: BillingAddress
    cancellation_url: str = ""

    def __post_init__(self):
        _require_decimal("amount", self.amount)


@dataclass(frozen=True)
class OrderSession:
    order_tracking_id: str
    merchant_reference: str
    redirect_url: str


@dataclass(frozen=True)
class TransactionStatus:
    """Pesapal's answer about one order; `status` is one of the state constants above."""

    order_tracking_id: str
    merchant_reference: str
    status: str
    amount: Decimal
    currency: str
    confirmation_code: str
    payment_method: str
    payment_account: str
    description: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class IpnRegistration:
    """One registered Pesapal IPN URL; `ipn_id` is the `notification_id` for orders."""

    ipn_id: str
    url: str
    notification_type: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class MnoCheckoutRequest:
    """An AzamPay mobile-money push. `provider` is one of azampay.PROVIDERS."""

    external_id: str
    phone: str
    amount: Decimal
    currency: str
    provider: str

    def __post_init__(self):
        _require_decimal("amount", self.amount)


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
    reference: str
    amount: Decimal | None
    msisdn: str
    operator: str
    mno_reference: str
    external_reference: str
    message: str
    raw: dict = field(repr=False, compare=False)

    @property
    def is_success(self) -> bool:
        # Only the exact lowercase word credits money (gateways.md trap 11).
        return self.transaction_status == "success"


@dataclass(frozen=True)
class AzamPayStatus:
    """AzamPay's status query answer: `status` is PENDING, COMPLETED or FAILED."""

    transaction_id: str
    status: str
    message: str
    raw: dict = field(repr=False, compare=False)


_SAFE_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,50}")


def check_merchant_reference(reference: str) -> str:
    """Pesapal's `id`: at most 50 characters; letters, digits and hyphens are always accepted."""
    if not _SAFE_REFERENCE.fullmatch(reference or ""):
        raise ValueError("merchant reference must be 1-50 letters, digits or hyphens")
    return reference
