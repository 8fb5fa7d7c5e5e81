"""Money: every money constant and conversion, Decimal quantising, TZS display and wire formats.

The one place where money meets strings (and, for APIs whose schema says "Float", floats going
out). Everything else passes `Decimal` around. One float rule: an amount never arrives as a float.
JSON from a gateway or a client is parsed with `parse_float=Decimal`, so a number like `60000.0`
is a Decimal from the start; a Python float handed to `to_decimal` has already lost the exact
value and is refused with TypeError (a programming error, not bad input).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "TZS"
# A JSON number of at most this many significant digits survives the float round trip exactly.
_FLOAT_SAFE_DIGITS = 15


class MoneyFormatError(ValueError):
    """A value that cannot be read as an amount of money."""


def require_decimal(name: str, value) -> None:
    """TypeError unless `value` is a Decimal (for typed messages that carry money)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")


def to_decimal(value) -> Decimal:
    """Read an int, Decimal or string ("413000", " 1,500.50 ") as an exact Decimal.

    Raises MoneyFormatError (a ValueError) for anything that is not a finite number, and
    TypeError for a float: parse JSON with `parse_float=Decimal` instead.
    """
    if isinstance(value, float):
        raise TypeError("a float has already lost the exact amount: parse with parse_float=Decimal")
    if isinstance(value, bool) or value is None:
        raise MoneyFormatError(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace(",", "")
        try:
            amount = Decimal(text)
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


def wire_number(amount: Decimal) -> float:
    """The JSON number for an amount of money, for APIs whose schema says "Float".

    A 2-decimal value of at most 15 significant digits survives the float round trip exactly and
    `json.dumps` writes its shortest repr ("413000.0", "10.5"), so nothing is lost on the wire.
    """
    require_decimal("amount", amount)
    quantised = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if len(quantised.as_tuple().digits) > _FLOAT_SAFE_DIGITS:
        raise ValueError("amount too large to send as a JSON number")
    return float(quantised)


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
