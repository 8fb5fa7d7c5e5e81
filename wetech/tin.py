"""Tanzanian Taxpayer Identification Numbers (TIN) and VAT Registration Numbers (VRN).

A TIN is 9 digits, printed `123-456-789`; people type it with or without the dashes (or with
spaces), so it is stored as the 9 digits alone and formatted when shown. A VRN is 8 digits and a
check letter, printed `40-012345-A`.
"""

import re

TIN_DIGITS = 9
# Dashes (the hyphen, and the en dash a phone keyboard or a copied document may give) and spaces
# are how people group the digits; nothing else is taken out.
_TIN_SEPARATORS = re.compile(r"[\s\-\u2010-\u2013]+")
_TIN = re.compile(r"[0-9]{9}")
_VRN = re.compile(r"([0-9]{2})-?([0-9]{6})-?([A-Z])")


def tin_normalize(raw: str) -> str:
    """The 9 digits of a TIN typed as `123-456-789`, `123 456 789` or `123456789`; ValueError
    for anything else (other characters, or not exactly 9 digits)."""
    digits = _TIN_SEPARATORS.sub("", raw or "")
    if not _TIN.fullmatch(digits):
        raise ValueError(f"a TIN has {TIN_DIGITS} digits, e.g. 123-456-789")
    return digits


def tin_format(digits: str) -> str:
    """`123456789` as `123-456-789`; anything that is not 9 digits is returned as it is."""
    if not _TIN.fullmatch(digits or ""):
        return digits or ""
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def vrn_normalize(raw: str) -> str:
    """A VRN as printed, `40-012345-A` (typed with or without dashes, any case); ValueError
    otherwise."""
    match = _VRN.fullmatch(_TIN_SEPARATORS.sub("-", (raw or "").strip()).upper())
    if match is None:
        raise ValueError("a VRN is 8 digits and a letter, e.g. 40-012345-A")
    return "-".join(match.groups())
