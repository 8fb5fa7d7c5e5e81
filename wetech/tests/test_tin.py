"""Tanzanian tax numbers: a TIN typed any usual way is 9 digits; shown as 123-456-789."""

import pytest

from wetech.tin import tin_format, tin_normalize, vrn_normalize


@pytest.mark.parametrize(
    "typed",
    ["123-456-789", "123456789", "123 456 789", " 123-456 789 ", "123\u2013456\u2013789"],
)
def test_a_tin_with_or_without_dashes_or_spaces_is_its_nine_digits(typed):
    assert tin_normalize(typed) == "123456789"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345678",  # 8 digits
        "1234567890",  # 10
        "123-456-78O",  # a letter O
        "123.456.789",
        "TIN 123456789",
        "١٢٣٤٥٦٧٨٩",  # digits, but not the ones a TIN is written in
        "123456789\x00",
    ],
)
def test_anything_else_is_not_a_tin(typed):
    with pytest.raises(ValueError, match=r"a TIN has 9 digits, e\.g\. 123-456-789"):
        tin_normalize(typed)


def test_a_tin_is_shown_in_three_groups():
    assert tin_format("123456789") == "123-456-789"
    # Not 9 digits (say, a row written before the rule): shown as stored, never garbled.
    assert tin_format("12345") == "12345"
    assert tin_format("") == ""


@pytest.mark.parametrize("typed", ["40-012345-A", "40012345A", "40 012345 a", "40-012345a"])
def test_a_vrn_is_printed_with_dashes_and_a_capital(typed):
    assert vrn_normalize(typed) == "40-012345-A"


@pytest.mark.parametrize("typed", ["", "40-01234-A", "40-012345", "40-012345-AB", "4O-012345-A"])
def test_anything_else_is_not_a_vrn(typed):
    with pytest.raises(ValueError, match="a VRN is 8 digits and a letter"):
        vrn_normalize(typed)
