"""The one JSON reader for hostile input: bounded depth, storable strings, ValueError only."""

import json
from decimal import Decimal

import pytest

from wetech.json_input import MAX_DEPTH, UnreadableJSON, loads, storable_text


@pytest.mark.parametrize(
    "text",
    [
        "[" * 30_000 + "]" * 30_000,  # json.loads raises RecursionError on this
        '{"a":' * 30_000,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    ],
)
def test_nesting_deeper_than_the_limit_is_unreadable_not_a_recursion_error(text):
    with pytest.raises(UnreadableJSON, match="nests deeper"):
        loads(text)


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_fine():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    text = json.dumps({"note": "[" * 1000 + '\\" {{{', "quoted": ['a"[b', "\\"]})
    assert loads(text) == json.loads(text)


def test_lone_surrogates_and_nul_come_back_replaced_in_keys_and_values():
    value = loads(r'{"\ud800key": ["a\udfffb", "c\u0000d", "\ud83d\ude00"], "n": 1.5}')
    assert value == {"\ufffdkey": ["a\ufffdb", "c\ufffdd", "\U0001f600"], "n": 1.5}
    # What comes back can always be written out as UTF-8 (and so stored).
    json.dumps(value, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\xff\xfe"}', "{", "", "nul", "1" * 5000, '{"a": 1,}'],
)
def test_anything_else_unreadable_is_a_value_error(data):
    with pytest.raises(UnreadableJSON) as caught:
        loads(data)
    assert isinstance(caught.value, ValueError)


def test_keyword_arguments_reach_json_loads():
    assert loads(b'{"amount": 1.10}', parse_float=Decimal) == {"amount": Decimal("1.10")}


def test_storable_text_replaces_only_what_cannot_be_stored():
    assert storable_text("a\x00b\ud800c\U0001f600é") == "a\ufffdb\ufffdc\U0001f600é"
