"""The Kiswahili catalogue is whole, compiled and in step with the code; no customer template
shows text that bypasses it.

1. Every entry of `locale/sw/LC_MESSAGES/django.po` is translated and none is fuzzy, with the
   same placeholders as its English.
2. The committed `django.mo` says exactly what the `.po` says: the `.po` compiled here with polib
   and the committed `.mo` have the same entries (file times mean nothing in a fresh clone).
3. Nothing the templates and code mark is missing from the catalogue: Django's `makemessages`
   runs over a copy of the sources into a temporary folder (it needs GNU gettext: skipped, with
   the reason, where it is not installed; `.ci/run` installs it).
4. No customer template has words outside a translation tag: text between tags, and the `alt`,
   `title`, `placeholder`, `aria-label` and script-text (`data-text-*`, `data-busy-label`)
   attributes, must come from `{% translate %}`, `{% blocktranslate %}` or a variable. The admin's
   templates and staff's emails stay English and are not checked.

None of this needs a database: it runs once, in the SQLite pass of `make test`.
"""

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.test import override_settings

from wetech.tests.conftest import REPO_ROOT

pytestmark = pytest.mark.db_independent

CATALOGUE = REPO_ROOT / "locale" / "sw" / "LC_MESSAGES"
PO = CATALOGUE / "django.po"
MO = CATALOGUE / "django.mo"
TEMPLATES = REPO_ROOT / "templates"

# What `makemessages` reads (the README's command ignores the rest: .venv, sandbox, bench, the
# tests, the admin's templates).
SOURCES = ("templates", "wetech", "wetechnologies")
NOT_SCANNED = ("wetech/tests", "templates/admin")

# English for staff: the admin, and the emails that go to STAFF_EMAILS.
STAFF_TEMPLATES = (
    "admin/",
    "emails/lead_staff.txt",
    "emails/lead_staff_subject.txt",
    "emails/payment_staff.txt",
    "emails/payment_staff_subject.txt",
    "emails/payment_alert.txt",
    "emails/payment_alert_subject.txt",
    "emails/refund_staff.txt",
    "emails/refund_staff_subject.txt",
)
# Names, not words: they read the same in every language.
NAMES = {"WeTech", "We", "Tech"}
CHECKED_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "data-busy-label"}
CHECKED_ATTRIBUTE_PREFIXES = ("data-text-",)
# Blocks that fill an attribute with names for the CSS, not words: `{% block body_class %}`.
NOT_TEXT_BLOCKS = {"body_class"}

_PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[#0 +-]*\d*(?:\.\d+)?[sdifr%]")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
# Stands for whatever a template tag or variable outputs.
_DYNAMIC = "\x00"


def _key(entry) -> tuple:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _translations(catalogue) -> dict:
    return {
        _key(entry): (entry.msgstr, tuple(sorted(entry.msgstr_plural.items())))
        for entry in catalogue
        if entry.msgid
    }


# --- 1. whole ---------------------------------------------------------------------------------


def test_every_kiswahili_entry_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    assert catalogue.metadata["Language"] == "sw"
    assert not catalogue.metadata_is_fuzzy, "the catalogue's header is marked fuzzy"
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated in {PO.relative_to(REPO_ROOT)}: {untranslated}"
    assert not fuzzy, f"fuzzy in {PO.relative_to(REPO_ROOT)}: {fuzzy}"
    assert len(catalogue.translated_entries()) > 100


def test_every_translation_keeps_the_placeholders_of_its_english():
    def placeholders(text: str) -> set[str]:
        return set(_PLACEHOLDER.findall(text))

    wrong = []
    for entry in polib.pofile(str(PO)).translated_entries():
        if not entry.msgid_plural:
            if placeholders(entry.msgstr) != placeholders(entry.msgid):
                wrong.append(entry.msgid)
            continue
        # The singular may say "a minute" where the plural says "%(minutes)d minutes".
        singular, plural = entry.msgstr_plural[0], entry.msgstr_plural[1]
        if not placeholders(singular) <= placeholders(entry.msgid_plural):
            wrong.append(entry.msgid)
        if placeholders(plural) != placeholders(entry.msgid_plural):
            wrong.append(entry.msgid_plural)
    assert not wrong, f"placeholders differ from the English: {wrong}"


# --- 2. compiled ------------------------------------------------------------------------------


def test_the_committed_mo_says_what_the_po_says(tmp_path):
    compiled = tmp_path / "django.mo"
    polib.pofile(str(PO)).save_as_mofile(str(compiled))
    expected = _translations(polib.mofile(str(compiled)))
    committed = _translations(polib.mofile(str(MO)))
    stale = {
        key for key in expected.keys() | committed.keys() if expected.get(key) != committed.get(key)
    }
    assert not stale, (
        f"{MO.relative_to(REPO_ROOT)} is not compiled from the current .po "
        f"(run compilemessages, see README): {sorted(stale)[:10]}"
    )
    assert polib.mofile(str(MO)).metadata.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"


# --- 3. in step with the code -----------------------------------------------------------------


def _copy_sources(target: Path) -> None:
    def skip(folder, names):
        relative = Path(folder).relative_to(REPO_ROOT).as_posix()
        return [
            name for name in names if name == "__pycache__" or f"{relative}/{name}" in NOT_SCANNED
        ]

    for source in SOURCES:
        shutil.copytree(REPO_ROOT / source, target / source, ignore=skip)


@pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgmerge") and shutil.which("msguniq")),
    reason="GNU gettext is not installed (apt-get install gettext; .ci/run installs it)",
)
def test_nothing_the_code_marks_is_missing_from_the_catalogue(tmp_path, monkeypatch):
    sources = tmp_path / "sources"
    _copy_sources(sources)
    monkeypatch.chdir(sources)
    with override_settings(LOCALE_PATHS=[sources / "locale"]):
        call_command("makemessages", locale=["sw"], add_location="file", verbosity=0)
    extracted = polib.pofile(str(sources / "locale" / "sw" / "LC_MESSAGES" / "django.po"))
    known = {_key(entry) for entry in polib.pofile(str(PO)) if not entry.obsolete}
    missing = sorted({_key(entry) for entry in extracted if entry.msgid} - known)
    assert not missing, (
        f"marked for translation but not in {PO.relative_to(REPO_ROOT)} "
        f"(run makemessages and translate them, see README): {missing}"
    )


# --- 4. no text outside a translation tag -----------------------------------------------------


def _skeleton(source: str) -> str:
    """The template's literal text, each tag's or variable's output (and each translation block
    whole) replaced by one marker: what a reader would see that no translation can change."""
    parts = []
    closing = None  # the end tag of a block whose content is not literal output
    for token in Lexer(source).tokenize():
        if closing:
            if token.token_type == TokenType.BLOCK and token.contents.split()[0] == closing:
                closing = None
            continue
        if token.token_type == TokenType.TEXT:
            parts.append(token.contents)
            continue
        if token.token_type == TokenType.BLOCK:
            name, *arguments = token.contents.split()
            if name in ("blocktranslate", "blocktrans", "comment", "verbatim"):
                closing = f"end{name}"
            elif name == "block" and arguments[:1] and arguments[0] in NOT_TEXT_BLOCKS:
                closing = "endblock"
        if token.token_type != TokenType.COMMENT:
            parts.append(_DYNAMIC)
    return "".join(parts)


class _LiteralText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw = 0  # inside <script> or <style>

    def _check(self, where: str, text: str) -> None:
        words = [word for word in _WORD.findall(text.replace(_DYNAMIC, " ")) if word not in NAMES]
        if words:
            self.found.append(f"{where}: {' '.join(words)!r}")

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._raw += 1
        for name, value in attrs:
            if name in CHECKED_ATTRIBUTES or name.startswith(CHECKED_ATTRIBUTE_PREFIXES):
                self._check(f"<{tag} {name}>", value or "")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._raw = max(0, self._raw - 1)

    def handle_data(self, data):
        if not self._raw:
            self._check("text", data)


def untranslated_text(source: str) -> list[str]:
    """Literal words of a template that no translation tag covers (empty when it is clean)."""
    parser = _LiteralText()
    parser.feed(_skeleton(source))
    parser.close()
    return parser.found


def _customer_templates() -> list[Path]:
    paths = []
    for path in sorted(TEMPLATES.rglob("*")):
        relative = path.relative_to(TEMPLATES).as_posix()
        if path.suffix not in (".html", ".txt") or relative.startswith(STAFF_TEMPLATES):
            continue
        paths.append(path)
    return paths


def test_the_checker_finds_text_outside_translation_tags():
    assert untranslated_text('<p>{% translate "Pay" %} · WeTech</p>') == []
    assert (
        untranslated_text("<p>{% blocktranslate %}Pay {{ x }} now{% endblocktranslate %}</p>") == []
    )
    assert untranslated_text("{% comment %}Not shown{% endcomment %}<b>{{ name }}</b>") == []
    assert untranslated_text("<p>Total: {{ total }}</p>") == ["text: 'Total'"]
    assert untranslated_text('<img alt="Logo" src="x.png">') == ["<img alt>: 'Logo'"]
    assert untranslated_text('<a aria-label="{% translate "Home" %}">') == []
    assert untranslated_text('<div data-text-failed="Failed">') == [
        "<div data-text-failed>: 'Failed'"
    ]
    assert untranslated_text("<style>body { color: red; }</style>") == []
    assert untranslated_text("Hello {{ name }},\n") == ["text: 'Hello'"]


def test_customer_templates_have_no_text_outside_translation_tags():
    templates = _customer_templates()
    assert len(templates) > 20
    found = {
        path.relative_to(REPO_ROOT).as_posix(): problems
        for path in templates
        if (problems := untranslated_text(path.read_text()))
    }
    assert not found, f"text outside {{% translate %}} / {{% blocktranslate %}}: {found}"
