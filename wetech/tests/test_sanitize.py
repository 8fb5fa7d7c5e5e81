import html

import bleach
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wetech.sanitize import plain_text, single_line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<b>Hello</b> <i>there</i>", "Hello there"),
        ("<script>alert(1)</script>Hi", "alert(1)Hi"),
        ('<a href="javascript:alert(1)" onclick="x()">link</a>', "link"),
        ("<img src=x onerror=alert(1)>", ""),
        ("Habari, ninahitaji tovuti", "Habari, ninahitaji tovuti"),
        ("Asante sana 🙏🏾 😀", "Asante sana 🙏🏾 😀"),
        ("'; DROP TABLE leads; --", "'; DROP TABLE leads; --"),
        ("Tom & Jerry < 3 > 2", "Tom & Jerry < 3 > 2"),
        ("&lt;b&gt;bold&lt;/b&gt;", "bold"),
        ("line one\r\nline two", "line one\nline two"),
    ],
)
def test_plain_text_strips_tags_and_keeps_text(raw, expected):
    assert plain_text(raw) == expected


def test_single_line_collapses_whitespace_and_newlines():
    assert single_line("  Asha \n\t <b>Mwinyi</b>  ") == "Asha Mwinyi"


@given(st.text(max_size=300))
def test_plain_text_is_idempotent_and_tag_free(raw):
    once = plain_text(raw)
    assert plain_text(once) == once
    assert "<script" not in once.lower()


@settings(max_examples=1000)
@given(st.text().filter(lambda text: "<" not in text and "&" not in text))
def test_the_fast_path_for_text_without_markup_agrees_with_bleach(text):
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    through_bleach = html.unescape(bleach.clean(normalised, tags=[], attributes={}, strip=True))

    assert plain_text(text) == through_bleach.strip()
