"""The ticker against its benchmark (SPY, or the price store's S&P 500 index) as a hand-written
SVG: both rebased to 100 at the first common day; and, for a batch, every completed ticker and
the benchmark on the dates they all share (`comparison_chart_svg`), in the same style with one
colour (then dash pattern) per line.

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

from shared.domain.comparison import BatchMember
from shared.domain.evidence import PriceSeries, benchmark_name
from shared.domain.models import JobStatus

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
# A batch's tickers, in the order given; each passes 3:1 against BACKGROUND. After the last
# colour the cycle repeats with a dash pattern, so no two lines look the same.
SERIES_COLOURS = (
    TICKER_COLOUR, "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a21caf",
)
DASHES = ("", "8 4", "2 3")
LEGEND_ROW = 16


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
                Line(benchmark.display_name, days, rebased([b for _, _, b in common])),
            ]
    return [Line(ticker.symbol, list(ticker.dates), rebased(list(ticker.closes)))]


def chart_svg(
    ticker: PriceSeries | None,
    benchmark: PriceSeries | None,
    benchmark_symbol: str | None = None,
) -> str:
    """The SVG document (UTF-8 text) for one job's evidence; the benchmark is named by its
    series (`benchmark_name`: the S&P 500 index from the price store), SPY without one."""
    benchmark_symbol = benchmark_symbol or benchmark_name(benchmark)
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


def _y(value: float, low: float, high: float, top: int = TOP) -> float:
    return top + PLOT_H * (high - value) / (high - low)


def _polyline(
    line: Line, colour: str, low: float, high: float, top: int = TOP, dash: str = ""
) -> str:
    count = len(line.values)
    points = " ".join(
        f"{_x(i, count):.2f},{_y(v, low, high, top):.2f}" for i, v in enumerate(line.values)
    )
    last = line.values[-1]
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline class="series" data-symbol="{escape(line.symbol)}" fill="none" '
        f'stroke="{colour}"{dashed} stroke-width="2" stroke-linejoin="round" points="{points}">'
        f"<title>{escape(line.symbol)}: {last:.1f} on {line.dates[-1].isoformat()}</title>"
        "</polyline>"
    )


def _nice_step(span: float) -> float:
    raw = span / Y_TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _y_axis(low: float, high: float, top: int = TOP) -> str:
    step = _nice_step(high - low)
    parts = []
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-9:
        y = _y(tick, low, high, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.2f}" y2="{y:.2f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.2f}" text-anchor="end">{tick:g}</text>'
        )
        tick += step
    return '<g class="y-axis">' + "".join(parts) + "</g>"


def _x_axis(days: list[date], top: int = TOP) -> str:
    count = len(days)
    indexes = sorted({round(i * (count - 1) / (X_LABELS - 1)) for i in range(X_LABELS)})
    baseline = top + PLOT_H
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


def _reference(low: float, high: float, top: int = TOP) -> str:
    y = _y(100.0, low, high, top)
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
    title: str,
    description: str,
    parts: list[str],
    domain: tuple[float, float] | None,
    top: int = TOP,
) -> str:
    height = HEIGHT + top - TOP  # a taller legend pushes the plot down, never over it
    data = ""
    if domain is not None:
        data = (f' data-y-domain="{domain[0]:g} {domain[1]:g}"'
                f' data-plot="{LEFT} {top} {PLOT_W} {PLOT_H}"')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="chart-title chart-desc"{data} '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{TEXT}">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="{BACKGROUND}"/>'
        + "".join(parts)
        + "</svg>\n"
    )


# -- a batch ---------------------------------------------------------------------------------


def comparison_lines(
    members: list[BatchMember], benchmark: PriceSeries | None
) -> tuple[list[Line], bool, list[str]]:
    """The lines of a batch's chart, whether the last one is the benchmark, and what could not
    be drawn (one phrase each).

    Each completed member with a price series, in the order given, then the benchmark, all
    rebased to 100 on the dates they share. The benchmark is left out (and said so) when it
    would leave no shared date."""
    notes: list[str] = []
    drawn: list[PriceSeries] = []
    for member in members:
        if member.status is not JobStatus.COMPLETED or member.quant is None:
            notes.append(f"{member.ticker} did not complete")
            continue
        series = member.quant.ticker_series
        if series is None or not series.closes:
            notes.append(f"{member.ticker} has no price history in its evidence")
            continue
        drawn.append(series)
    if not drawn:
        return [], False, notes
    shared = set(drawn[0].dates)
    for series in drawn[1:]:
        shared &= set(series.dates)
    with_bench = benchmark is not None and bool(shared & set(benchmark.dates))
    if benchmark is not None and with_bench:
        shared &= set(benchmark.dates)
        drawn.append(benchmark)
    else:
        notes.append(f"{benchmark_name(benchmark)} is not available")
    days = sorted(shared)
    if not days:
        return [], False, [*notes, "the tickers share no trading day"]
    lines = []
    for series in drawn:
        by_day = dict(zip(series.dates, series.closes, strict=True))
        lines.append(Line(series.display_name, days, rebased([by_day[d] for d in days])))
    return lines, with_bench, notes


def _style(index: int) -> tuple[str, str]:
    """The colour and dash pattern of the index-th ticker line."""
    return (
        SERIES_COLOURS[index % len(SERIES_COLOURS)],
        DASHES[(index // len(SERIES_COLOURS)) % len(DASHES)],
    )


def _legend_rows(labels: list[str]) -> list[list[tuple[int, int]]]:
    """(entry index, x) per legend entry, wrapped into rows that fit the plot's width."""
    rows: list[list[tuple[int, int]]] = [[]]
    x = LEFT
    for index, label in enumerate(labels):
        width = 40 + 9 * len(label)
        if rows[-1] and x + width > WIDTH - RIGHT:
            rows.append([])
            x = LEFT
        rows[-1].append((index, x))
        x += width
    return rows


def comparison_chart_svg(members: list[BatchMember], benchmark: PriceSeries | None) -> str:
    """The SVG document (UTF-8 text) for a batch: every completed ticker and the benchmark,
    rebased to 100 on the dates they share, one line each, with a legend and a description."""
    lines, with_bench, notes = comparison_lines(members, benchmark)
    bench_symbol = benchmark_name(benchmark)
    tickers = [m.ticker for m in members if m.status is JobStatus.COMPLETED]
    title = f"{', '.join(tickers) or 'No ticker'} against {bench_symbol}, rebased to 100"
    if not lines:
        reason = "; ".join(notes) or "the batch has no member"
        return _document(title, f"Nothing to draw: {reason}.", [_message(
            "No shared price history is in the evidence for this batch.")], None)
    styles = [
        (BENCHMARK_COLOUR, "") if with_bench and i == len(lines) - 1 else _style(i)
        for i in range(len(lines))
    ]
    labels = [line.symbol for line in lines]
    if not with_bench:
        labels.append(f"{bench_symbol}: not available")
    rows = _legend_rows(labels)
    top = TOP + LEGEND_ROW * (len(rows) - 1)
    low, high = _domain([v for line in lines for v in line.values])
    parts = [_y_axis(low, high, top), _x_axis(lines[0].dates, top), _reference(low, high, top)]
    parts += [
        _polyline(line, colour, low, high, top, dash)
        for line, (colour, dash) in zip(lines, styles, strict=True)
    ]
    legend = []
    for row_number, row in enumerate(rows):
        y = 20 + LEGEND_ROW * row_number
        for index, x in row:
            if index >= len(lines):  # the benchmark that could not be drawn
                legend.append(f'<text x="{x}" y="{y + 4}">{escape(labels[index])}</text>')
                continue
            colour, dash = styles[index]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            legend.append(
                f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{colour}"{dashed} '
                f'stroke-width="3"/><text x="{x + 28}" y="{y + 4}">{escape(labels[index])}</text>'
            )
    parts.append('<g class="legend">' + "".join(legend) + "</g>")
    days = lines[0].dates
    moves = "; ".join(f"{line.symbol} ends at {line.values[-1]:.1f}" for line in lines)
    missing = "".join(f"; {note}" for note in notes)
    description = (
        f"Closing prices rebased to 100 on {days[0].isoformat()}, over {len(days)} trading days "
        f"they all share, to {days[-1].isoformat()}: {moves}{missing}."
    )
    return _document(title, description, parts, (low, high), top)
