"""The ticker against SPY as a hand-written SVG: both rebased to 100 at the first common day.

No plotting library (cold start matters): two polylines, a 100 reference line, a few y ticks,
dates on the x axis, a legend, and a <title>/<desc> for screen readers. One point per common
trading day, evenly spaced (trading days, not calendar days). Every piece of text is escaped.

The root element carries `data-y-domain` and `data-plot` so a reader (or a test) can turn a
point's pixel position back into its value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from html import escape

from shared.domain.evidence import BENCHMARK_SYMBOL, PriceSeries

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 44, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
X_LABELS = 5
Y_TICKS = 5

BACKGROUND = "#ffffff"
TEXT = "#1a1d21"
GRID = "#d9dde3"
REFERENCE = "#6b7280"
TICKER_COLOUR = "#1d4ed8"
BENCHMARK_COLOUR = "#b45309"


@dataclass(frozen=True)
class Line:
    """One series on the chart: its symbol, dates and values rebased to 100."""

    symbol: str
    dates: list[date]
    values: list[float]


def rebased(closes: list[float]) -> list[float]:
    """Closes as an index: 100 at the first one."""
    first = closes[0]
    return [100.0 * close / first for close in closes]


def lines_for(ticker: PriceSeries | None, benchmark: PriceSeries | None) -> list[Line]:
    """The lines to draw: both on their common days, or the ticker alone without a benchmark."""
    if ticker is None or not ticker.closes:
        return []
    if benchmark is not None and benchmark.closes:
        bench_by_day = dict(zip(benchmark.dates, benchmark.closes, strict=True))
        common = [(d, c, bench_by_day[d]) for d, c in zip(ticker.dates, ticker.closes, strict=True)
                  if d in bench_by_day]
        if common:
            days = [d for d, _, _ in common]
            return [
                Line(ticker.symbol, days, rebased([c for _, c, _ in common])),
                Line(benchmark.symbol, days, rebased([b for _, _, b in common])),
            ]
    return [Line(ticker.symbol, list(ticker.dates), rebased(list(ticker.closes)))]


def chart_svg(
    ticker: PriceSeries | None,
    benchmark: PriceSeries | None,
    benchmark_symbol: str = BENCHMARK_SYMBOL,
) -> str:
    """The SVG document (UTF-8 text) for one job's evidence."""
    lines = lines_for(ticker, benchmark)
    symbol = ticker.symbol if ticker is not None else "ticker"
    title = f"{symbol} against {benchmark_symbol}, rebased to 100"
    if not lines:
        return _document(title, "No price history is in the evidence.", [_message(
            "No price history is in the evidence for this analysis.")], None)
    low, high = _domain([v for line in lines for v in line.values])
    days = lines[0].dates
    parts = [_y_axis(low, high), _x_axis(days), _reference(low, high)]
    colours = (TICKER_COLOUR, BENCHMARK_COLOUR)
    for line, colour in zip(lines, colours, strict=False):
        parts.append(_polyline(line, colour, low, high))
    parts.append(_legend(lines, colours, benchmark_symbol))
    return _document(title, _description(lines, benchmark_symbol), parts, (low, high))


def _domain(values: list[float]) -> tuple[float, float]:
    """A y range with some air, widened around 100 when every value is (nearly) the same."""
    low, high = min(values + [100.0]), max(values + [100.0])
    pad = max((high - low) * 0.06, 1.0)
    return math.floor(low - pad), math.ceil(high + pad)


def _x(index: int, count: int) -> float:
    return LEFT + (PLOT_W / 2 if count == 1 else PLOT_W * index / (count - 1))


def _y(value: float, low: float, high: float) -> float:
    return TOP + PLOT_H * (high - value) / (high - low)


def _polyline(line: Line, colour: str, low: float, high: float) -> str:
    count = len(line.values)
    points = " ".join(
        f"{_x(i, count):.2f},{_y(v, low, high):.2f}" for i, v in enumerate(line.values)
    )
    last = line.values[-1]
    return (
        f'<polyline class="series" data-symbol="{escape(line.symbol)}" fill="none" '
        f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{points}">'
        f"<title>{escape(line.symbol)}: {last:.1f} on {line.dates[-1].isoformat()}</title>"
        "</polyline>"
    )


def _nice_step(span: float) -> float:
    raw = span / Y_TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _y_axis(low: float, high: float) -> str:
    step = _nice_step(high - low)
    parts = []
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-9:
        y = _y(tick, low, high)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.2f}" y2="{y:.2f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.2f}" text-anchor="end">{tick:g}</text>'
        )
        tick += step
    return '<g class="y-axis">' + "".join(parts) + "</g>"


def _x_axis(days: list[date]) -> str:
    count = len(days)
    indexes = sorted({round(i * (count - 1) / (X_LABELS - 1)) for i in range(X_LABELS)})
    baseline = TOP + PLOT_H
    parts = [f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{baseline}" y2="{baseline}" '
             f'stroke="{REFERENCE}"/>']
    for position, index in enumerate(indexes):
        x = _x(index, count)
        anchor = "start" if position == 0 else "end" if position == len(indexes) - 1 else "middle"
        if count == 1:
            anchor = "middle"
        parts.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{baseline}" y2="{baseline + 5}" '
            f'stroke="{REFERENCE}"/>'
            f'<text x="{x:.2f}" y="{baseline + 20}" text-anchor="{anchor}">'
            f'<tspan class="date">{days[index].isoformat()}</tspan></text>'
        )
    return '<g class="x-axis">' + "".join(parts) + "</g>"


def _reference(low: float, high: float) -> str:
    y = _y(100.0, low, high)
    return (
        f'<line class="reference" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.2f}" y2="{y:.2f}" '
        f'stroke="{REFERENCE}" stroke-dasharray="4 4"/>'
    )


def _legend(lines: list[Line], colours: tuple[str, str], benchmark_symbol: str) -> str:
    entries = [(line.symbol, colour) for line, colour in zip(lines, colours, strict=False)]
    parts = []
    x = LEFT
    for symbol, colour in entries:
        parts.append(
            f'<line x1="{x}" x2="{x + 22}" y1="20" y2="20" stroke="{colour}" stroke-width="3"/>'
            f'<text x="{x + 28}" y="24">{escape(symbol)}</text>'
        )
        x += 40 + 9 * len(symbol)
    if len(lines) == 1:
        parts.append(f'<text x="{x}" y="24">{escape(benchmark_symbol)}: not available</text>')
    return '<g class="legend">' + "".join(parts) + "</g>"


def _description(lines: list[Line], benchmark_symbol: str) -> str:
    days = lines[0].dates
    moves = "; ".join(f"{line.symbol} ends at {line.values[-1]:.1f}" for line in lines)
    missing = "" if len(lines) > 1 else f"; {benchmark_symbol} is not available"
    return (
        f"Closing prices rebased to 100 on {days[0].isoformat()}, over {len(days)} trading days "
        f"to {days[-1].isoformat()}: {moves}{missing}."
    )


def _message(text: str) -> str:
    return (f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            f"{escape(text)}</text>")


def _document(
    title: str, description: str, parts: list[str], domain: tuple[float, float] | None
) -> str:
    data = ""
    if domain is not None:
        data = (f' data-y-domain="{domain[0]:g} {domain[1]:g}"'
                f' data-plot="{LEFT} {TOP} {PLOT_W} {PLOT_H}"')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc"{data} '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{TEXT}">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{BACKGROUND}"/>'
        + "".join(parts)
        + "</svg>\n"
    )
