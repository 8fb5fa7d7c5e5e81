"""JSON from the internet, read the one safe way: bounded depth, and strings that can be stored.

`json.loads` trusts its input too much for a public endpoint: 30,000 `[` fit in a 64 KiB body and
make it raise RecursionError (not ValueError, so it escapes the usual handler), and a `\\ud800`
escape gives a lone surrogate that no UTF-8 encoder, PostgreSQL or SQLite will store. `loads`
refuses the first as `UnreadableJSON` (a ValueError) before parsing, and returns every string
(keys too) with lone surrogates and NUL replaced by U+FFFD, so whatever it returns can be saved,
compared in a query and written back out. `storable_text` does the same for any text.
"""

import json
import re

# Deeper than any message a gateway or a form sends (theirs are two levels), shallow enough that
# the recursive code after the parse (redaction, json.dumps) never meets Python's recursion limit.
MAX_DEPTH = 32

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON string literal (unrolled, so it runs in linear time), and the brackets that nest.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class UnreadableJSON(ValueError):
    """Not JSON, not UTF-8, or nested deeper than `MAX_DEPTH`."""


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (PostgreSQL refuses both)."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable(value):
    """A parsed JSON value with every string (and key) made storable."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def nesting_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when arrays/objects in `text` nest deeper than `limit` (strings are skipped)."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs):
    """`json.loads` for hostile input. Raises UnreadableJSON; returns storable values.

    Bytes must be UTF-8. `kwargs` go to `json.loads` (e.g. `parse_float=Decimal`).
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableJSON("the body is not UTF-8") from exc
    if nesting_depth_exceeds(data, max_depth):
        raise UnreadableJSON(f"the JSON nests deeper than {max_depth} levels")
    try:
        value = json.loads(data, **kwargs)
    except (ValueError, RecursionError) as exc:
        raise UnreadableJSON("the body is not valid JSON") from exc
    return storable(value)
