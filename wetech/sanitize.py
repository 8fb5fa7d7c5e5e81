"""Free text to plain text: the one module that calls bleach.

Every tag is stripped and entities are turned back into characters, so the database holds what
a person would read. Output escaping by Django templates stays the defence when it is shown.
"""

import html
import re

import bleach

# Decoding entities can uncover new tags ("&lt;b&gt;" becomes "<b>"); a few rounds reach a fixed
# point for any real input, and the cap keeps hostile nesting from looping for long.
_MAX_ROUNDS = 5
_SPACE_RUNS = re.compile(r"\s+")
_NEEDS_PARSING = re.compile(
    r"[<&\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)


def plain_text(value: str) -> str:
    """Strip every HTML tag and decode entities; keeps line breaks (normalised to \\n)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    # Without "<" there is no tag, without "&" no entity, and without control characters
    # nothing for the parser to replace: bleach would hand the text back as it is, and it is
    # the costliest step of a form post.
    if not _NEEDS_PARSING.search(text):
        return text.strip()
    for _ in range(_MAX_ROUNDS):
        cleaned = html.unescape(bleach.clean(text, tags=[], attributes={}, strip=True))
        if cleaned == text:
            break
        text = cleaned
    return text.strip()


def single_line(value: str) -> str:
    """Plain text on one line with single spaces, for names and other header-bound fields."""
    return _SPACE_RUNS.sub(" ", plain_text(value)).strip()
