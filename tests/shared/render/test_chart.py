"""shared.render.chart: a point per common trading day, 100 at the first, the return at the last."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared.domain.evidence import PriceSeries
from shared.render.chart import X_LABELS, chart_svg
from tests.ui.svg_chart import SVG_NS, parse_chart, texts

# The drawn y is rounded to 0.01 px; over a domain of a few tens of points that is < 0.01.
ROUNDING = 0.01


def series(
    symbol: str, start: date, closes: list[float], skip: frozenset[int] = frozenset()
) -> PriceSeries:
    days = [start + timedelta(days=i) for i in range(len(closes) + len(skip))]
    kept = [d for i, d in enumerate(days) if i not in skip]
    return PriceSeries(symbol=symbol, dates=kept, closes=closes, source="test")


def test_both_series_on_their_common_days_rebased_to_100() -> None:
    start = date(2026, 1, 5)
    ticker = series("ACME", start + timedelta(days=2), [50.0, 55.0, 52.0, 60.0, 61.0, 57.5])
    bench = series("SPY", start, [400.0, 404.0, 410.0, 405.0, 420.0, 418.0, 430.0],
                   skip=frozenset({4}))  # SPY has no close on the ticker's third day
    ticker_by_day = dict(zip(ticker.dates, ticker.closes, strict=True))
    bench_by_day = dict(zip(bench.dates, bench.closes, strict=True))
    common = [d for d in ticker.dates if d in bench_by_day]
    assert 2 < len(common) < len(ticker.dates)

    root, drawn = parse_chart(chart_svg(ticker, bench))

    assert set(drawn) == {"ACME", "SPY"}
    for symbol, by_day in (("ACME", ticker_by_day), ("SPY", bench_by_day)):
        line = drawn[symbol]
        assert len(line.values) == len(common)
        assert line.values[0] == pytest.approx(100.0, abs=ROUNDING)
        expected_last = 100 * by_day[common[-1]] / by_day[common[0]]
        assert line.values[-1] == pytest.approx(expected_last, abs=ROUNDING)
        for value, day in zip(line.values, common, strict=True):
            assert value == pytest.approx(100 * by_day[day] / by_day[common[0]], abs=ROUNDING)
        steps = {round(b - a, 2) for a, b in zip(line.xs, line.xs[1:], strict=False)}
        assert len(steps) == 1  # evenly spaced trading days
    labels = [t for t in texts(root) if t[:4].isdigit() and "-" in t]
    assert labels[0] == common[0].isoformat() and labels[-1] == common[-1].isoformat()
    assert len(labels) == min(X_LABELS, len(common))
    assert root.get("role") == "img"
    assert root.find(f"{SVG_NS}title") is not None and root.find(f"{SVG_NS}desc") is not None


def test_without_a_benchmark_the_ticker_stands_alone_and_says_so() -> None:
    ticker = series("ACME", date(2026, 3, 2), [10.0, 11.0, 12.5])
    root, drawn = parse_chart(chart_svg(ticker, None))
    assert list(drawn) == ["ACME"]
    assert drawn["ACME"].values[-1] == pytest.approx(125.0, abs=ROUNDING)
    assert "SPY: not available" in texts(root)


def test_without_prices_the_chart_says_so() -> None:
    root, drawn = parse_chart(chart_svg(None, None))
    assert drawn == {}
    assert any("No price history" in t for t in texts(root))


def test_one_common_day_is_one_point_at_100() -> None:
    day = date(2026, 3, 2)
    _, drawn = parse_chart(chart_svg(series("A", day, [3.0]), series("SPY", day, [400.0])))
    assert [len(s.values) for s in drawn.values()] == [1, 1]
    assert all(s.values[0] == pytest.approx(100.0, abs=ROUNDING) for s in drawn.values())


def test_text_from_the_evidence_is_escaped() -> None:
    hostile = '"><script>alert(1)</script><text onload="x">'
    ticker = series(hostile, date(2026, 3, 2), [10.0, 11.0])
    svg = chart_svg(ticker, series("SPY&<b>", date(2026, 3, 2), [1.0, 2.0]))
    root, drawn = parse_chart(svg)  # well-formed XML
    assert "<script" not in svg
    assert not list(root.iter(f"{SVG_NS}script"))
    assert all(not name.startswith("on") for e in root.iter() for name in e.attrib)
    assert hostile in drawn and "SPY&<b>" in drawn
