from decimal import Decimal

import pytest

from wetech.money import (
    MoneyFormatError,
    format_money,
    format_rate_percent,
    from_wire,
    quantize,
    to_decimal,
    to_wire,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", Decimal("0.01")),
        ("0.015", Decimal("0.02")),
        ("2.675", Decimal("2.68")),
        ("-0.005", Decimal("-0.01")),
        (270000, Decimal("270000.00")),
        (0.1, Decimal("0.10")),
    ],
)
def test_quantize_rounds_half_up_to_cents(value, expected):
    assert quantize(value) == expected
    assert quantize(value).as_tuple().exponent == -2


def test_float_is_read_through_its_shortest_repr():
    assert to_decimal(2.675) == Decimal("2.675")


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "", True])
def test_non_amounts_are_refused(bad):
    with pytest.raises(MoneyFormatError):
        to_decimal(bad)


def test_wire_format_is_a_plain_decimal_string():
    assert to_wire(Decimal("413000")) == "413000.00"
    assert to_wire(Decimal("1E+6")) == "1000000.00"
    assert from_wire("413000.005") == Decimal("413000.01")


def test_tzs_display_has_thousands_separators():
    assert format_money(Decimal("1500000")) == "TZS 1,500,000"
    assert format_money(Decimal("1500000.50")) == "TZS 1,500,000.50"
    assert format_money(Decimal("60000"), "USD") == "USD 60,000"


def test_tax_rate_as_people_write_it():
    assert format_rate_percent(Decimal("0.18")) == "18"
    assert format_rate_percent(Decimal("0.165")) == "16.5"
    assert format_rate_percent(Decimal("0")) == "0"
