"""Money: Decimal quantising, TZS display and wire formats.

The one place where money meets floats or strings. Everything else passes `Decimal` around.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "TZS"


class MoneyFormatError(ValueError):
    """A value that cannot be read as an amount of money."""


def to_decimal(value) -> Decimal:
    """Read an int, Decimal, str or float as a Decimal, without binary-float noise."""
    if isinstance(value, bool):
        raise MoneyFormatError("a boolean is not an amount")
    if isinstance(value, float):
        # repr() gives the shortest string that round-trips, so 0.1 becomes Decimal("0.1").
        value = repr(value)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise MoneyFormatError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyFormatError(f"not a finite amount: {value!r}")
    return amount


def quantize(value) -> Decimal:
    """Round to cents, half-up (the way people and tax offices round)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_wire(value) -> str:
    """The string form used in JSON and gateway requests: "413000.00"."""
    return f"{quantize(value):f}"


def from_wire(value) -> Decimal:
    """Parse an amount received from a gateway or a JSON client."""
    return quantize(value)


def format_amount(value) -> str:
    """ "1,500,000" for whole amounts, "1,500,000.50" when there are cents."""
    amount = quantize(value)
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


def format_money(value, currency: str = DEFAULT_CURRENCY) -> str:
    """ "TZS 1,500,000": currency code first, thousands separated, as Tanzanian invoices show it."""
    return f"{currency} {format_amount(value)}"


def format_rate_percent(rate) -> str:
    """ "18" for 0.18, "16.5" for 0.165: a tax rate as people write it."""
    percent = (to_decimal(rate) * 100).normalize()
    return f"{percent:f}"
