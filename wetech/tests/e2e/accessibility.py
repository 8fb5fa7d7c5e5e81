"""What the accessibility browser tests share: axe-core run in the page, and the two languages.

axe-core comes from PyPI (`axe-playwright-python`, which bundles axe's script): the test injects it
into the page under test through Playwright, so it is never served to visitors and the site's CSP
is unchanged. The rules run are WCAG 2.1 levels A and AA.
"""

from contextlib import contextmanager

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from django.utils import translation

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}

# English at today's URLs, Kiswahili under /sw/ (issue 14): every page is checked in both.
LANGUAGE_PREFIXES = ["", "/sw"]
LANGUAGE_OF_PREFIX = {"": "en", "/sw": "sw"}
# What the visitor's browser asks for (Accept-Language): a Kiswahili reader's prefers Kiswahili.
BROWSER_LOCALE = {"": "en-GB", "/sw": "sw-TZ"}
PHONE = {"width": 390, "height": 844}

_axe = Axe()


def language_prefix_available(prefix: str) -> None:
    """Skip the Kiswahili case while the site has no /sw/ pages yet (they answer 404)."""
    if not prefix:
        return
    # The request activates its language on this thread: put back the one the test runs in, so
    # reverse() and get_absolute_url() keep giving today's (English) paths.
    with translation.override(translation.get_language()):
        status = Client().get(f"{prefix}/").status_code
    if status == 404:
        pytest.skip(f"{prefix}/ answers 404: the Kiswahili pages of issue 14 are not built yet")


@contextmanager
def phone_page(browser, prefix: str):
    """A phone-sized tab whose browser speaks the language of `prefix`."""
    context = browser.new_context(viewport=PHONE, locale=BROWSER_LOCALE[prefix])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def violations_report(label: str, violations: list[dict]) -> str:
    """Each violation with its rule, impact, help link and the elements that break it."""
    lines = [f"{label}: {len(violations)} WCAG 2.1 AA violation(s)"]
    for violation in violations:
        lines.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            lines.append(f"    - {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = node.get("failureSummary", "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


class AxeChecks:
    """Runs axe on each page visited and keeps every violation, so one run reports them all."""

    def __init__(self, page, prefix: str):
        self.page = page
        self.language = LANGUAGE_OF_PREFIX[prefix]
        self.checked: list[str] = []
        self.reports: list[str] = []

    def check(self, label: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        lang = page.locator("html").get_attribute("lang")
        if lang != self.language:
            self.reports.append(f"{label}: <html lang={lang!r}>, expected {self.language!r}")
        results = _axe.run(page, options=AXE_OPTIONS)
        self.checked.append(f"{label} ({page.url})")
        violations = results.response["violations"]
        if violations:
            self.reports.append(violations_report(f"{label} ({page.url})", violations))

    def assert_clean(self) -> None:
        assert self.checked, "no page was checked"
        assert not self.reports, "\n\n".join(self.reports)
