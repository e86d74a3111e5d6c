"""shared.render.chart.comparison_chart_svg: every completed ticker and the benchmark, rebased to
100 on the dates they all share, one line each, a legend and a description."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.comparison import BatchMember
from shared.domain.evidence import PriceSeries
from shared.domain.models import JobStatus
from shared.render import chart
from shared.render.chart import comparison_chart_svg
from tests.shared.domain.comparison_samples import (
    batch,
    completed,
    quant_for,
    series,
    walk,
    weekdays,
)
from tests.ui.svg_chart import SVG_NS, parse_chart, texts
from tests.ui.test_contrast import NON_TEXT, contrast

ROUNDING = 0.05  # a domain of a few hundred points over 272 px: about 0.01 per 0.01 px


def shared_days(members: list[BatchMember], bench: PriceSeries) -> list[date]:
    days = set(bench.dates)
    for m in members:
        if m.status is JobStatus.COMPLETED and m.quant and m.quant.ticker_series:
            days &= set(m.quant.ticker_series.dates)
    return sorted(days)


def test_every_completed_ticker_and_the_benchmark_on_their_shared_days() -> None:
    members, spy = batch()
    common = shared_days(members, spy)

    root, drawn = parse_chart(comparison_chart_svg(members, spy))

    assert list(drawn) == ["CCC", "BBB", "AAA", "SPY"]  # the order given; failed ZZZZ left out
    by_symbol = {
        s.symbol: s for s in [spy] + [m.quant.ticker_series for m in members  # type: ignore[misc]
                                      if m.quant is not None]
    }
    for symbol, line in drawn.items():
        source = by_symbol[symbol]
        closes = dict(zip(source.dates, source.closes, strict=True))
        assert len(line.values) == len(common)
        assert line.values[0] == pytest.approx(100.0, abs=ROUNDING)
        assert line.values[-1] == pytest.approx(
            100 * closes[common[-1]] / closes[common[0]], abs=ROUNDING)
    title = root.find(f"{SVG_NS}title")
    desc = root.find(f"{SVG_NS}desc")
    assert title is not None and title.text == "CCC, BBB, AAA against SPY, rebased to 100"
    assert desc is not None and desc.text is not None
    assert desc.text.startswith(f"Closing prices rebased to 100 on {common[0].isoformat()}, "
                                f"over {len(common)} trading days they all share")
    assert "ZZZZ did not complete" in desc.text
    legend = [t for t in texts(root) if t in ("CCC", "BBB", "AAA", "SPY")]
    assert legend == ["CCC", "BBB", "AAA", "SPY"]
    strokes = [line.get("stroke") for line in root.iter(f"{SVG_NS}polyline")]
    assert len(set(strokes)) == 4 and strokes[-1] == chart.BENCHMARK_COLOUR


def test_without_a_benchmark_it_says_so() -> None:
    members, _ = batch()
    root, drawn = parse_chart(comparison_chart_svg(members, None))
    assert list(drawn) == ["CCC", "BBB", "AAA"]
    assert "SPY: not available" in texts(root)


def test_many_tickers_wrap_the_legend_and_stay_distinct() -> None:
    days = weekdays(30)
    tickers = [f"TICKER{i:02d}" for i in range(12)]
    members = [completed(t, quant_for(t, series(t, days, walk(i, days)), None))
               for i, t in enumerate(tickers)]
    svg = comparison_chart_svg(members, series("SPY", days, walk(99, days)))
    root, drawn = parse_chart(svg)
    assert list(drawn) == [*tickers, "SPY"]
    styles = [(p.get("stroke"), p.get("stroke-dasharray"))
              for p in root.iter(f"{SVG_NS}polyline")]
    assert len(set(styles)) == len(styles)
    plot_top = float((root.get("data-plot") or "").split()[1])
    legend_ys = {float(t.get("y") or 0) for t in root.iter(f"{SVG_NS}text")
                 if "".join(t.itertext()) in [*tickers, "SPY"]}
    assert len(legend_ys) > 1 and max(legend_ys) < plot_top  # rows above the plot
    for line in drawn.values():
        assert line.values[0] == pytest.approx(100.0, abs=ROUNDING)


@pytest.mark.parametrize("colour", chart.SERIES_COLOURS)
def test_series_colours_pass_aa_for_lines(colour: str) -> None:
    assert contrast(colour, chart.BACKGROUND) >= NON_TEXT


def test_hostile_symbols_are_escaped_and_nothing_to_draw_is_said() -> None:
    days = weekdays(10)
    hostile = '"><script>alert(1)</script>'
    members = [completed("AAA", quant_for("AAA", series(hostile, days, walk(1, days)), None))]
    svg = comparison_chart_svg(members, None)
    assert "<script>" not in svg
    root, drawn = parse_chart(svg)
    assert hostile in drawn

    empty = comparison_chart_svg(
        [BatchMember(ticker="BAD", job_id="j", status=JobStatus.FAILED)], None)
    root, drawn = parse_chart(empty)
    assert drawn == {}
    desc = root.find(f"{SVG_NS}desc")
    assert desc is not None and "BAD did not complete" in (desc.text or "")
