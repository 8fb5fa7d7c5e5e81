"""WCAG AA contrast of the site's text colours, computed from static/css/site.css.

axe-core (the browser tests) checks every page, but it cannot judge text over a gradient (the home
page's hero) and only sees the states a test reaches (a hover, a badge it did not show). This
checks those pairs from the stylesheet itself: 4.5:1 for text (all of the site's small text is
held to it, large text too), 3:1 for what shows a control or the focus (WCAG 1.4.11).
"""

import re

import pytest

from wetech.tests.conftest import REPO_ROOT

SITE_CSS = REPO_ROOT / "static" / "css" / "site.css"
NORMAL_TEXT = 4.5
NON_TEXT = 3.0  # WCAG 1.4.11: a form field's edge, the focus ring


def css_variables() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", SITE_CSS.read_text(), re.S).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root))


def colour(value: str) -> str:
    return css_variables()[value[2:]] if value.startswith("--") else value


def relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted(
        (relative_luminance(colour(foreground)), relative_luminance(colour(background))),
        reverse=True,
    )
    return (lighter + 0.05) / (darker + 0.05)


# (where, text colour, background): every text colour on the grounds it is used on.
PAIRS = [
    # The hero's gradient runs from --brand to --brand-dark: checked against both ends.
    *[
        (f"hero {what} on {ground}", fg, ground)
        for what, fg in [
            ("eyebrow", "--accent-light"),
            ("heading", "#ffffff"),
            ("lead", "#dbe6f1"),
            ("ghost button", "#ffffff"),
        ]
        for ground in ("--brand", "--brand-dark")
    ],
    ("eyebrow and service-header link on the page head", "--accent-dark", "--brand-soft"),
    ("eyebrow on the page", "--accent-dark", "--bg"),
    ("invoice kind ('Tax invoice') on a card", "--accent-dark", "--card"),
    ("amber button", "#1c1300", "--accent"),
    ("amber button, hovered", "#ffffff", "--accent-dark"),
    ("blue button", "#ffffff", "--brand"),
    ("paid badge and notice, success message", "--ok", "--ok-soft"),
    ("issued badge, waiting notice", "--warn", "--warn-soft"),
    ("void badge, errors notice", "--bad", "--bad-soft"),
    ("field errors on a card", "--bad", "--card"),
    ("muted text on the page", "--muted", "--bg"),
    ("muted text on a card", "--muted", "--card"),
    ("muted text on the page head", "--muted", "--brand-soft"),
    ("links on the page", "--brand", "--bg"),
    ("links in the waiting notice", "--brand", "--warn-soft"),
    ("links in the paid notice", "--brand", "--ok-soft"),
    ("body text", "--ink", "--bg"),
    ("footer text", "#dbe6f1", "--brand-dark"),
    ("footer legal line", "#a9bdd1", "--brand-dark"),
]


@pytest.mark.parametrize(("where", "foreground", "background"), PAIRS, ids=[p[0] for p in PAIRS])
def test_text_colours_meet_wcag_aa(where, foreground, background):
    ratio = contrast_ratio(foreground, background)
    assert ratio >= NORMAL_TEXT, f"{where}: {ratio:.2f}:1 is below {NORMAL_TEXT}:1"


def test_the_measure_agrees_with_the_ratios_lighthouse_reported():
    # The failures issue 14 quotes, from the colours of the time.
    assert round(contrast_ratio("#f5a524", "#f7f9fb"), 2) == 1.93
    assert round(contrast_ratio("#17803d", "#e6f4ea"), 2) == 4.41
    assert round(contrast_ratio("#b86e00", "#e8f0f8"), 2) == 3.46


NON_TEXT_PAIRS = [
    ("form field edge on a card", "--field-line", "--card"),
    ("focus ring on a card", "--accent-dark", "--card"),
    ("focus ring on the page", "--accent-dark", "--bg"),
    ("focus ring on the page head", "--accent-dark", "--brand-soft"),
    *[
        (f"focus ring on the hero ({ground})", "--accent-light", ground)
        for ground in ("--brand", "--brand-dark")
    ],
    ("focus ring on the footer", "--accent-light", "--brand-dark"),
]


@pytest.mark.parametrize(
    ("where", "foreground", "background"), NON_TEXT_PAIRS, ids=[p[0] for p in NON_TEXT_PAIRS]
)
def test_field_edges_and_the_focus_ring_stand_out(where, foreground, background):
    ratio = contrast_ratio(foreground, background)
    assert ratio >= NON_TEXT, f"{where}: {ratio:.2f}:1 is below {NON_TEXT}:1"
