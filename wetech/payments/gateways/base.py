"""The provider-neutral side of every gateway: the interface, its typed results, its errors.

A gateway module (pesapal.py, azampay.py) implements `PaymentGateway` and translates between
these types and its provider's HTTP and words, through one status table of its own. The services
(start, inbox, settlement, reconcile) and the views speak only these types, so they never branch
on a gateway's name and never see a provider's words. Nothing here knows about requests, the ORM
or a Django request. Money is always `Decimal`.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from wetech.money import require_decimal


class PaymentStatus(StrEnum):
    """What a gateway says about one payment, after its module's status table."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REVERSED = "reversed"
    # The gateway knows nothing it can vouch for (e.g. Pesapal's status_code 0): not a failure.
    INVALID = "invalid"


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


class MalformedNotification(ValueError):
    """A message we cannot read at all (no reference, body not JSON): answered with a 400."""


@dataclass(frozen=True)
class Payer:
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class PaymentRequest:
    """One attempt to collect `amount`: `merchant_reference` is new for every attempt.

    `phone` and `provider` are the mobile-money account a push gateway prompts (the pay form asks
    for them only when the gateway has `push_to_phone`).
    """

    merchant_reference: str
    amount: Decimal
    currency: str
    description: str
    payer: Payer
    phone: str = ""
    provider: str = ""

    def __post_init__(self):
        require_decimal("amount", self.amount)


@dataclass(frozen=True)
class StartedPayment:
    """The gateway took the request. `gateway_reference` is empty when it named none."""

    gateway_reference: str
    # Where to send the customer (a hosted page); empty for a push to the phone.
    redirect_url: str = ""
    # What the attempt shows while it waits.
    detail: str = ""


@dataclass(frozen=True)
class AttemptRef:
    """What a gateway needs to ask about one attempt (never an ORM object)."""

    merchant_reference: str
    gateway_reference: str
    amount: Decimal
    currency: str
    provider: str = ""


@dataclass(frozen=True)
class PaymentFinding:
    """What the authoritative source says about one attempt, already in our words."""

    status: PaymentStatus
    amount: Decimal | None = None
    currency: str = ""
    merchant_reference: str = ""
    gateway_reference: str = ""
    confirmation_code: str = ""
    payment_method: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ParsedNotification:
    """Which attempt a notification is about, and what it says itself (if anything).

    The attempt is looked up by `lookup_field` = `lookup_value` among the gateway's attempts,
    i.e. by OUR stored mapping only. `merchant_reference`, when the message names one, must be
    that attempt's. `finding` is the message's own news (None when, like Pesapal's IPN, it
    carries none and only the status query can tell). `reject_reason` refuses the message once
    the attempt is known. `ack_fields` are what the gateway's acknowledgement echoes.
    """

    lookup_field: Literal["merchant_reference", "gateway_reference"]
    lookup_value: str
    merchant_reference: str = ""
    finding: PaymentFinding | None = None
    reject_reason: str = ""
    ack_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequestData:
    """One refund to ask a gateway for: `amount` of the payment named by its references, asked
    by `username` (a person: the gateway keeps who initiated it) for `remarks`."""

    merchant_reference: str
    gateway_reference: str
    confirmation_code: str
    amount: Decimal
    currency: str
    username: str
    remarks: str
    # Ours, unique per refund (the ledger's key for it).
    refund_reference: str

    def __post_init__(self):
        require_decimal("amount", self.amount)


@dataclass(frozen=True)
class RefundAccepted:
    """The gateway queued the refund; it is only done once the gateway reports the payment
    reversed. `message` is the gateway's own words."""

    message: str = ""


@dataclass(frozen=True)
class PushLimits:
    """How many push prompts one invoice and one phone may get in a window (0: no limit)."""

    per_invoice: int
    per_invoice_minutes: int
    per_phone: int
    per_phone_minutes: int


class PaymentGateway(ABC):
    """One payment provider, as the payment pipeline sees it.

    Subclasses set `name` (stored on attempts and notifications), `label` (for people) and the
    two flags, and translate; they hold no state but their HTTP client.
    """

    name: str = ""
    label: str = ""
    # True: the customer approves on a phone, so the pay form asks for phone and provider.
    # False: the customer is sent to the gateway's hosted page.
    push_to_phone: bool = False
    # After a start whose outcome is unknown: True keeps the attempt pending (the request may
    # still reach the customer and its notification carries our reference); False expires it
    # (the customer can never reach a page we have no link to).
    pending_after_unknown_start: bool = False

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    @abstractmethod
    def is_configured(self) -> bool:
        """May the site offer this gateway (its settings are all set)?"""

    def accepts(self, *, currency: str, total: Decimal) -> bool:
        """Can this gateway collect `total` in `currency`?"""
        return True

    @abstractmethod
    def start(self, request: PaymentRequest) -> StartedPayment:
        """Start collecting. Raises GatewayError (GatewayOutcomeUnknown when it may have)."""

    def can_query_status(self, ref: AttemptRef) -> bool:
        """Can `query_status` be asked about this attempt?"""
        return bool(ref.gateway_reference)

    @abstractmethod
    def query_status(self, ref: AttemptRef) -> PaymentFinding:
        """Ask the gateway about one attempt. Raises GatewayError. Never inside a transaction."""

    @abstractmethod
    def parse_notification(self, *, query_string: str, body: str) -> ParsedNotification:
        """Read a stored notification. Raises MalformedNotification."""

    def judge(
        self, parsed: ParsedNotification, ref: AttemptRef, queried: PaymentFinding | None
    ) -> PaymentFinding | None:
        """The truth about the attempt, from the notification and the status query (None when
        the query was not made or failed), by this gateway's own trust rules. None: nothing to
        settle. By default the query decides, and the message's own news only stands in for
        a query that could not be made."""
        return queried if queried is not None else parsed.finding

    def cancel(self, gateway_reference: str) -> None:
        """Best effort: stop a replaced attempt from being paid too. Raises GatewayError.

        A gateway whose attempts cannot be paid once replaced (a push) has nothing to do."""
        return None

    def acknowledge(
        self, parsed: ParsedNotification, *, processed: bool, result: str
    ) -> tuple[int, dict]:
        """The HTTP status and JSON body the gateway expects for a notification we read.

        `processed` is False when it could not be applied yet (the gateway should send it again);
        `result` is the inbox's result (applied, duplicate, ignored, rejected, error).
        """
        return (200 if processed else 503), {"received": processed}

    def push_limits(self) -> PushLimits | None:
        """Limits on prompts to one invoice and one phone (push gateways); None: no limits."""
        return None

    # --- refunds --------------------------------------------------------------------------------

    # True: `request_refund` asks the gateway, and the refund is done when the gateway reports
    # the payment reversed. False: staff refund by hand and record it with its reference.
    supports_refund_api: bool = False

    def refund_problem(
        self,
        *,
        payment_method: str,
        amount: Decimal,
        collected: Decimal,
        confirmation_code: str = "",
        earlier_refunds: int = 0,
    ) -> str:
        """Why this gateway cannot refund `amount` of a completed payment that collected
        `collected` through `payment_method` (its own word for it), or "" when it can.

        `earlier_refunds` counts this payment's refunds requested or done through the gateway.
        """
        if amount <= 0:
            return "a refund must be more than nothing"
        if amount > collected:
            return f"{self.label} cannot refund more than it collected ({collected})"
        return ""

    def request_refund(self, request: RefundRequestData) -> RefundAccepted:
        """Ask the gateway to refund. Raises GatewayRejected when it refuses, GatewayError when
        it cannot be asked (GatewayOutcomeUnknown when it may have queued it). Never inside a
        transaction."""
        raise GatewayRejected(f"{self.label} has no refund API", gateway=self.name)
