"""The track record as a reader sees it: the Markdown report, its two SVG charts and the
`backtest.json` document. Pure: every number comes from `shared.domain.track_record`.

The report has, in order: the title and what was scored, the verdict in words per horizon, the
contamination flag when a training cutoff was given, then per horizon the verdicts (counts, mean
and median forward excess), the hit rates beside their base rates, the IC and the long-short
spread with their intervals (and why, where one is undefined), the calibration table, and last
"How to read this". Free text goes through `shared.render.markdown.inline`.

The charts follow `shared.render.chart` (its frame, axes and palette; a <title>, a <desc>, every
text escaped): the cumulative long-short spread by decision date, one line per horizon, and the
hit rate of buys and sells by confidence bucket, grouped bars per horizon with a tick at the
bucket's mean confidence (where a calibrated call would sit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from html import escape
from typing import Any

from shared.domain.formatting import MISSING, format_value
from shared.domain.track_record import (
    LEVEL,
    VERDICT_RULE,
    CalibrationBucket,
    Decision,
    Estimate,
    TrackRecord,
    format_excess,
    format_ic,
)
from shared.render.chart import (
    BENCHMARK_COLOUR,
    LEFT,
    PLOT_H,
    PLOT_W,
    REFERENCE,
    SERIES_COLOURS,
    TEXT,
    TICKER_COLOUR,
    TOP,
    _document,
    _message,
    _x,
    _x_axis,
    _y,
    _y_axis,
)
from shared.render.markdown import inline

HORIZON_COLOURS = (TICKER_COLOUR, BENCHMARK_COLOUR, *SERIES_COLOURS[1:])
_VERDICT_LABEL = {"buy": "Buy", "hold": "Hold", "sell": "Sell"}


def _records(records: TrackRecord | Sequence[TrackRecord]) -> list[TrackRecord]:
    return [records] if isinstance(records, TrackRecord) else sorted(records,
                                                                      key=lambda r: r.horizon)


def _rate(value: float | None) -> str:
    return format_value(value, "fraction")


def _horizon(record: TrackRecord) -> str:
    return f"{record.horizon} trading days"


# -- Markdown --------------------------------------------------------------------------------


def render_markdown(
    records: TrackRecord | Sequence[TrackRecord],
    *,
    title: str = "Track record",
    benchmark: str = "the benchmark",
) -> str:
    """The report as Markdown, one section per horizon, ending with a newline."""
    shown = _records(records)
    blocks = [f"# {inline(title) or 'Track record'}"]
    blocks.append(_scope(shown, benchmark))
    blocks.append("## Verdict")
    blocks.append("\n".join(f"- **{_horizon(r)}**: {inline(r.verdict_text)}" for r in shown)
                  or "No horizon was scored.")
    contamination = _contamination(shown)
    if contamination:
        blocks.append(contamination)
    for record in shown:
        blocks += _horizon_section(record)
    blocks += _how_to_read(shown, benchmark)
    return "\n\n".join(blocks) + "\n"


def _scope(records: list[TrackRecord], benchmark: str) -> str:
    if not records:
        return "Nothing was scored."
    first = records[0]
    dates = [d for r in records for d in (r.first_as_of, r.last_as_of) if d is not None]
    span = (f" dated {min(dates).isoformat()} to {max(dates).isoformat()}" if dates else "")
    horizons = " and ".join(str(r.horizon) for r in records)
    return (f"{first.n_decisions} decisions{span}, each scored by its forward return in excess "
            f"of {inline(benchmark)} at {horizons} trading days.")


def _contamination(records: list[TrackRecord]) -> str | None:
    flags = [r.contamination for r in records if r.contamination is not None]
    if not flags:
        return None
    flag = flags[0]
    return (f"> **Possibly contaminated**: {flag.flagged} of {flag.n} decisions are dated "
            f"before the model's training cutoff ({flag.cutoff.isoformat()}); the model may "
            "remember what happened after them, so their scores may overstate what it can "
            "predict.")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _horizon_section(record: TrackRecord) -> list[str]:
    blocks = [f"## {_horizon(record)}",
              f"{record.n_scored} of {record.n_decisions} decisions scored, on {record.n_dates} "
              "decision dates (the others have no forward return: the data ends before their "
              "window does, or the benchmark lacks one of its dates)."]
    blocks.append("### Verdicts")
    blocks.append(_table(
        ["Verdict", "Decisions", "Scored", "Mean excess", "Median excess"],
        [[_VERDICT_LABEL[s.verdict.value], str(s.count), str(s.n), format_excess(s.mean),
          format_excess(s.median)] for s in record.by_verdict],
    ))
    blocks.append("### Hit rates beside base rates")
    blocks.append(_table(
        ["Verdict", "Hit when", "Hits", "Scored", "Hit rate", "Base rate", "Base n", "Dates"],
        [[_VERDICT_LABEL[h.verdict.value], h.outcome, str(h.hits), str(h.n), _rate(h.rate),
          _rate(h.base_rate), str(h.base_n), str(h.n_dates)] for h in record.hit_rates],
    ))
    blocks.append("### Signal")
    blocks.append(_table(
        ["Statistic", "Value", f"{LEVEL:.0%} interval", "Decisions", "Dates",
         "Resamples defined"],
        [_estimate_row("IC (Spearman, signed score)", record.ic, format_ic, record),
         _estimate_row("Long-short spread (buy - sell)", record.long_short, format_excess,
                       record)],
    ))
    notes = [f"- {name}: {inline(text)}." for name, text in (
        ("IC", record.ic.reason), ("Long-short spread", record.long_short.reason),
        ("IC interval", record.ic.interval_reason if record.ic.value is not None else None),
        ("Long-short interval",
         record.long_short.interval_reason if record.long_short.value is not None else None),
    ) if text]
    if notes:
        blocks.append("Not computed:\n\n" + "\n".join(notes))
    blocks.append("### Calibration")
    blocks.append(_table(
        ["Confidence", "Calls", "Hits", "Hit rate", "Mean confidence"],
        [[bucket_label(b), str(b.n), str(b.hits), _rate(b.rate),
          MISSING if b.mean_confidence is None else f"{b.mean_confidence:.2f}"]
         for b in record.calibration],
    ))
    return blocks


def _estimate_row(
    name: str, estimate: Estimate, show: Callable[[float | None], str], record: TrackRecord
) -> list[str]:
    interval = MISSING
    if estimate.interval is not None:
        interval = f"{show(estimate.interval.low)} to {show(estimate.interval.high)}"
    resamples = MISSING
    if estimate.value is not None and estimate.resamples_defined:
        resamples = f"{estimate.resamples_defined:,} of {record.bootstrap.resamples:,}"
    return [name, show(estimate.value), interval, str(estimate.n), str(estimate.n_dates),
            resamples]


def bucket_label(bucket: CalibrationBucket) -> str:
    """"0.20 to < 0.40", or "0.80 to 1.00" for the last bucket, which includes 1."""
    upper = f"{bucket.high:.2f}" if bucket.includes_high else f"< {bucket.high:.2f}"
    return f"{bucket.low:.2f} to {upper}"


def _how_to_read(records: list[TrackRecord], benchmark: str) -> list[str]:
    bootstrap = records[0].bootstrap if records else None
    resampling = (
        f"{bootstrap.resamples:,} resamples of the decision dates (seed {bootstrap.seed}), "
        "percentile intervals" if bootstrap is not None else "no resamples")
    return ["## How to read this", "\n".join([
        f"- **Forward excess return**: from the last trading day on or before the decision's "
        f"as-of date (t) to h trading days later, the ticker's return minus the return of "
        f"{inline(benchmark)} between the same two dates. Only prices after the as-of date "
        "enter it, and the memo itself saw nothing after that date; where the data ends, or "
        "the benchmark lacks either date, there is no score.",
        "- **Base rates**: a hit rate means little alone. When most stocks happen to beat the "
        "benchmark over a window, a rule that always says buy scores well while knowing "
        "nothing; compare each hit rate with the base rate beside it, the share of ALL "
        "decisions on the same dates (every verdict) with the same outcome.",
        "- **IC**: the Spearman rank correlation, over all decisions pooled, between the "
        "signed score (buy +1, hold 0, sell -1, times the confidence) and the forward excess "
        "return, from -1 to +1; 0 means the verdicts order the returns no better than chance.",
        "- **Long-short spread**: the mean forward excess of the buys minus that of the sells.",
        f"- **Intervals**: {LEVEL:.0%} bootstrap intervals from {resampling}: decisions made on "
        "the same day share one market, so whole dates are resampled, not single decisions.",
        "- **Calibration**: the hit rate of buys and sells by stated confidence; a calibrated "
        "writer's 0.8 calls hit about 80% of the time. Holds make no call and are left out.",
        "- **Overlapping windows**: decisions fewer than h trading days apart share part of "
        "their forward window, so the cumulative chart is a picture of consistency, not a "
        "return anyone could have earned.",
        f"- **The verdict**: {inline(VERDICT_RULE)}",
    ])]


# -- JSON ------------------------------------------------------------------------------------


def backtest_json(
    decisions: Sequence[Decision], records: TrackRecord | Sequence[TrackRecord]
) -> dict[str, Any]:
    """`backtest.json`: one object per memo under `decisions`, ordered by date, ticker and job
    id, and the summary of each horizon under `summary`, keyed by the horizon ("21", "63")."""
    ordered = sorted(decisions, key=lambda d: (d.as_of, d.ticker, d.job_id))
    return {
        "decisions": [d.model_dump(mode="json") for d in ordered],
        "summary": {str(r.horizon): r.model_dump(mode="json") for r in _records(records)},
    }


# -- SVG: the cumulative long-short spread ---------------------------------------------------


def _domain(values: list[float]) -> tuple[float, float]:
    low, high = min(values + [0.0]), max(values + [0.0])
    pad = max((high - low) * 0.06, 0.5)
    return math.floor(low - pad), math.ceil(high + pad)


def _legend(labels: list[str], extra: str = "") -> str:
    """One entry per horizon in its colour, then `extra` (a dashed mark's meaning), if any."""
    parts = []
    x = LEFT
    for index, label in enumerate(labels):
        colour = HORIZON_COLOURS[index % len(HORIZON_COLOURS)]
        parts.append(
            f'<line x1="{x}" x2="{x + 22}" y1="20" y2="20" stroke="{colour}" stroke-width="3"/>'
            f'<text x="{x + 28}" y="24">{escape(label)}</text>'
        )
        x += 40 + 7 * len(label)
    if extra:
        parts.append(
            f'<line x1="{x}" x2="{x + 22}" y1="20" y2="20" stroke="{TEXT}" stroke-width="2" '
            f'stroke-dasharray="3 2"/><text x="{x + 28}" y="24">{escape(extra)}</text>'
        )
    return '<g class="legend">' + "".join(parts) + "</g>"


def _unit(text: str) -> str:
    return (f'<text class="unit" x="{LEFT - 8}" y="{TOP - 10}" text-anchor="end">'
            f"{escape(text)}</text>")


def _zero(low: float, high: float) -> str:
    y = _y(0.0, low, high)
    return (f'<line class="reference" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.2f}" '
            f'y2="{y:.2f}" stroke="{REFERENCE}" stroke-dasharray="4 4"/>')


def cumulative_long_short_svg(records: TrackRecord | Sequence[TrackRecord]) -> str:
    """The running sum of each decision date's long-short spread, in percentage points, one
    line per horizon, dates evenly spaced (decision dates, not calendar days)."""
    shown = _records(records)
    title = "Cumulative long-short spread (buys minus sells), percentage points"
    days: list[date] = sorted({p.as_of for r in shown for p in r.long_short_by_date})
    if not days:
        return _document(title, "No decision date had both a scored buy and a scored sell.",
                         [_message("No date had both a buy and a sell to compare.")], None)
    values = [100 * p.cumulative for r in shown for p in r.long_short_by_date]
    low, high = _domain(values)
    position = {day: index for index, day in enumerate(days)}
    parts = [_y_axis(low, high), _x_axis(days), _zero(low, high)]
    labels = []
    ends = []
    for index, record in enumerate(shown):
        label = _horizon(record)
        labels.append(label)
        colour = HORIZON_COLOURS[index % len(HORIZON_COLOURS)]
        points = [(_x(position[p.as_of], len(days)), _y(100 * p.cumulative, low, high), p)
                  for p in record.long_short_by_date]
        if not points:
            ends.append(f"{label}: no date with both a buy and a sell")
            labels[-1] = f"{label}: no data"
            continue
        last = record.long_short_by_date[-1]
        ends.append(f"{label}: {100 * last.cumulative:+.1f} points after "
                    f"{len(points)} dates, to {last.as_of.isoformat()}")
        drawn = " ".join(f"{x:.2f},{y:.2f}" for x, y, _ in points)
        marks = "".join(
            f'<circle cx="{x:.2f}" cy="{y:.2f}" r="2.5" fill="{colour}">'
            f"<title>{escape(label)}, {p.as_of.isoformat()}: spread "
            f"{escape(format_excess(p.spread))} ({p.n_buy} buys, {p.n_sell} sells), "
            f"cumulative {100 * p.cumulative:+.1f} points</title></circle>"
            for x, y, p in points)
        parts.append(
            f'<polyline class="series" data-symbol="{escape(label)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{drawn}">'
            f"<title>{escape(ends[-1])}</title></polyline>{marks}"
        )
    parts += [_legend(labels), _unit("points")]
    description = (
        "For each decision date with at least one scored buy and one scored sell, the mean "
        "forward excess return of the buys minus that of the sells, summed over the dates in "
        f"percentage points: {'; '.join(ends)}. Forward windows of nearby dates overlap, so "
        "this is not a tradable return.")
    return _document(title, description, parts, (low, high))


# -- SVG: calibration ------------------------------------------------------------------------


def calibration_svg(records: TrackRecord | Sequence[TrackRecord]) -> str:
    """Hit rate of buys and sells by confidence bucket, one bar per horizon in each bucket,
    with the bucket's mean confidence marked on each bar and its n above it."""
    shown = _records(records)
    title = "Calibration: hit rate of buys and sells by stated confidence"
    if not shown or not shown[0].calibration:
        return _document(title, "No horizon was scored.", [_message("Nothing to draw.")], None)
    buckets = shown[0].calibration
    group = PLOT_W / len(buckets)
    bar = min(48.0, group * 0.7 / len(shown))
    baseline = TOP + PLOT_H
    parts = [_y_axis(0, 100)]
    axis = [f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{baseline}" y2="{baseline}" '
            f'stroke="{REFERENCE}"/>']
    for index, bucket in enumerate(buckets):
        centre = LEFT + group * (index + 0.5)
        axis.append(f'<text x="{centre:.2f}" y="{baseline + 20}" text-anchor="middle">'
                    f"{escape(bucket_label(bucket))}</text>")
    parts.append('<g class="x-axis">' + "".join(axis) + "</g>")
    sentences = []
    for series, record in enumerate(shown):
        colour = HORIZON_COLOURS[series % len(HORIZON_COLOURS)]
        label = _horizon(record)
        cells = []
        for index, b in enumerate(record.calibration):
            left = LEFT + group * (index + 0.5) - bar * len(shown) / 2 + bar * series
            centre = left + bar / 2
            name = f"{label}, confidence {bucket_label(b)}"
            if b.rate is None:
                cells.append(f'<text x="{centre:.2f}" y="{baseline - 6}" text-anchor="middle" '
                             f'font-size="10">n=0</text>')
                sentences.append(f"{name}: no call")
                continue
            top = _y(100 * b.rate, 0, 100)
            said = f"{name}: {b.hits} of {b.n} hit ({_rate(b.rate)})"
            sentences.append(said)
            cells.append(
                f'<rect class="bar" data-horizon="{record.horizon}" data-bucket="{index}" '
                f'data-rate="{b.rate:.6f}" x="{left:.2f}" y="{top:.2f}" width="{bar:.2f}" '
                f'height="{baseline - top:.2f}" fill="{colour}"><title>{escape(said)}, mean '
                f"confidence {b.mean_confidence or 0:.2f}</title></rect>"
                f'<text x="{centre:.2f}" y="{top - 6:.2f}" text-anchor="middle" '
                f'font-size="10">n={b.n}</text>'
            )
            if b.mean_confidence is not None:
                y = _y(100 * b.mean_confidence, 0, 100)
                cells.append(f'<line class="confidence" x1="{left:.2f}" x2="{left + bar:.2f}" '
                             f'y1="{y:.2f}" y2="{y:.2f}" stroke="{TEXT}" '
                             f'stroke-width="2" stroke-dasharray="3 2"/>')
        parts.append(f'<g class="horizon" data-horizon="{record.horizon}">' + "".join(cells)
                     + "</g>")
    labels = [_horizon(r) if any(b.n for b in r.calibration) else f"{_horizon(r)}: no data"
              for r in shown]
    parts += [_legend(labels, "mean confidence"), _unit("%")]
    description = (
        "Share of buy calls followed by a positive forward excess return and of sell calls "
        "followed by a negative one, by confidence bucket; the dashed mark on each bar is the "
        f"bucket's mean confidence, where a calibrated writer's bar would end. "
        f"{'; '.join(sentences)}.")
    return _document(title, description, parts, (0, 100))

