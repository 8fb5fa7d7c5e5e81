import json
from decimal import Decimal

import pytest

from wetech.money import (
    MoneyFormatError,
    format_money,
    format_rate_percent,
    quantize,
    to_decimal,
    to_wire,
    wire_number,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", Decimal("0.01")),
        ("0.015", Decimal("0.02")),
        ("2.675", Decimal("2.68")),
        ("-0.005", Decimal("-0.01")),
        (270000, Decimal("270000.00")),
    ],
)
def test_quantize_rounds_half_up_to_cents(value, expected):
    assert quantize(value) == expected
    assert quantize(value).as_tuple().exponent == -2


@pytest.mark.parametrize("convert", [to_decimal, quantize, to_wire])
def test_a_float_is_refused_it_has_already_lost_the_exact_amount(convert):
    with pytest.raises(TypeError, match="parse_float=Decimal"):
        convert(2.675)


def test_a_json_number_parsed_as_decimal_is_exact():
    amount = json.loads('{"amount": 60000.0}', parse_float=Decimal)["amount"]
    assert to_decimal(amount) == Decimal("60000")
    assert to_decimal(json.loads("0.1", parse_float=Decimal)) == Decimal("0.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" 413000 ", Decimal("413000")), ("1,500.50", Decimal("1500.50")), (60000, Decimal("60000"))],
)
def test_strings_and_ints_are_read_exactly(value, expected):
    assert to_decimal(value) == expected


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "", True, None])
def test_non_amounts_are_refused(bad):
    with pytest.raises(MoneyFormatError):
        to_decimal(bad)


def test_wire_format_is_a_plain_decimal_string():
    assert to_wire(Decimal("413000")) == "413000.00"
    assert to_wire(Decimal("1E+6")) == "1000000.00"
    assert to_wire(Decimal("413000.005")) == "413000.01"


def test_tzs_display_has_thousands_separators():
    assert format_money(Decimal("1500000")) == "TZS 1,500,000"
    assert format_money(Decimal("1500000.50")) == "TZS 1,500,000.50"
    assert format_money(Decimal("60000"), "USD") == "USD 60,000"


def test_tax_rate_as_people_write_it():
    assert format_rate_percent(Decimal("0.18")) == "18"
    assert format_rate_percent(Decimal("0.165")) == "16.5"
    assert format_rate_percent(Decimal("0")) == "0"


def test_wire_number_is_the_exact_json_number_for_float_apis():
    assert json.dumps(wire_number(Decimal("413000.00"))) == "413000.0"
    with pytest.raises(TypeError):
        wire_number(413000)
    with pytest.raises(ValueError):
        wire_number(Decimal("12345678901234.56"))
