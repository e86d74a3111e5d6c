"""WCAG 2.x AA contrast of the page's palette (app.css) and of the chart's colours.

Text needs 4.5:1 (all our text is normal size); borders and lines that carry meaning (input
borders, the focus ring, chart lines) need 3:1 against what they sit on (WCAG 1.4.11).
The browser test also measures the rendered page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.render import chart

CSS = Path(__file__).resolve().parents[2] / "api" / "static" / "app.css"
TEXT, NON_TEXT = 4.5, 3.0


def relative_luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def palette() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS.read_text(), flags=re.S)
    assert root is not None
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", root.group(1)))


# (foreground, background, minimum): every pairing the stylesheet uses.
PAIRS = [
    ("text", "bg", TEXT), ("text", "surface", TEXT),
    ("muted", "bg", TEXT), ("muted", "surface", TEXT),
    ("link", "bg", TEXT), ("link", "surface", TEXT), ("accent-strong", "bg", TEXT),
    ("accent-strong", "surface", TEXT),
    ("on-accent", "accent", TEXT), ("on-accent", "accent-strong", TEXT),
    ("accent", "bg", TEXT),
    ("error-text", "bg", TEXT), ("error-text", "error-bg", TEXT),
    ("ok-text", "ok-bg", TEXT), ("warn-text", "warn-bg", TEXT),
    ("neutral-text", "neutral-bg", TEXT), ("info-text", "info-bg", TEXT),
    ("text", "warn-bg", TEXT),
    ("control-border", "bg", NON_TEXT), ("control-border", "surface", NON_TEXT),
    ("error-border", "bg", NON_TEXT), ("accent", "info-bg", NON_TEXT),
    ("focus", "bg", NON_TEXT), ("focus", "surface", NON_TEXT), ("focus", "warn-bg", NON_TEXT),
    ("warn-border", "warn-bg", NON_TEXT), ("error-border", "error-bg", NON_TEXT),
]


def test_formula_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("foreground", "background", "minimum"), PAIRS)
def test_palette_pair_passes_aa(foreground: str, background: str, minimum: float) -> None:
    colours = palette()
    ratio = contrast(colours[foreground], colours[background])
    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f} < {minimum}"


@pytest.mark.parametrize(
    ("foreground", "minimum"),
    [(chart.TEXT, TEXT), (chart.TICKER_COLOUR, NON_TEXT), (chart.BENCHMARK_COLOUR, NON_TEXT),
     (chart.REFERENCE, NON_TEXT)],
)
def test_chart_colours_pass_aa(foreground: str, minimum: float) -> None:
    assert contrast(foreground, chart.BACKGROUND) >= minimum


def test_every_variable_in_use_is_a_checked_colour() -> None:
    colours = palette()
    used = set(re.findall(r"var\(--([\w-]+)\)", CSS.read_text())) - {"radius"}
    checked = {name for pair in PAIRS for name in pair[:2]}
    assert used <= set(colours)
    # Only `border` (decorative panel edges, next to a background change) is left unchecked.
    assert used - checked <= {"border"}
