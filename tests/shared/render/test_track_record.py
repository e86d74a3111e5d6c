"""shared.render.track_record: the report's sections and tables, escaping, determinism; the two
SVG charts read back to their numbers; backtest.json in the shape the issue gives."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from shared.domain.models import Verdict
from shared.domain.track_record import Decision, TrackRecord, summarise
from shared.render.chart import PLOT_H
from shared.render.memo_html import render_report_html
from shared.render.track_record import (
    backtest_json,
    bucket_label,
    calibration_svg,
    cumulative_long_short_svg,
    render_markdown,
)
from tests.shared.domain.test_track_record import FIXED, decisions, synthetic
from tests.ui.svg_chart import SVG_NS, parse_chart, texts

HOSTILE = "<script>alert(1)</script> | [x](javascript:alert(1))"


def records(cutoff: date | None = None) -> list[TrackRecord]:
    rows = decisions()
    return [summarise(rows, 63, resamples=200, cutoff=cutoff),
            summarise(rows, 21, resamples=200, cutoff=cutoff)]  # order given is not kept


def cells(markdown: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first`."""
    for line in markdown.splitlines():
        if line.startswith(f"| {first} |"):
            return [c.strip() for c in line.strip("|").split(" | ")]
    raise AssertionError(f"no row {first!r}")


# -- Markdown --------------------------------------------------------------------------------


def test_sections_in_order_both_horizons_and_how_to_read_last() -> None:
    text = render_markdown(records(), title="Backtest", benchmark="S&P 500 index")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Backtest", "## Verdict",
        "## 21 trading days", "### Verdicts", "### Hit rates beside base rates", "### Signal",
        "### Calibration",
        "## 63 trading days", "### Verdicts", "### Hit rates beside base rates", "### Signal",
        "### Calibration",
        "## How to read this",
    ]
    assert "in excess of S&P 500 index at 21 and 63 trading days" in text
    assert "base rate" in text.split("## How to read this")[1].lower()
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_tables_carry_the_record_numbers() -> None:
    record = summarise(decisions(), 21, resamples=200)
    text = render_markdown(record)
    buy = next(s for s in record.by_verdict if s.verdict is Verdict.BUY)
    assert buy.mean is not None
    assert cells(text, "Buy")[:5] == ["Buy", str(buy.count), str(buy.n),
                                      f"{100 * buy.mean:+.1f}%",
                                      f"{100 * (buy.median or 0):+.1f}%"]
    hit = next(h for h in record.hit_rates if h.verdict is Verdict.SELL)
    row = [r for r in text.splitlines() if r.startswith("| Sell | excess < 0 |")][0]
    assert f"| {hit.hits} | {hit.n} | {100 * (hit.rate or 0):.1f}% | " \
           f"{100 * (hit.base_rate or 0):.1f}% | {hit.base_n} |" in row
    assert record.ic.value is not None and record.ic.interval is not None
    ic = cells(text, "IC (Spearman, signed score)")
    assert ic[1] == f"{record.ic.value:+.3f}"
    assert ic[2] == f"{record.ic.interval.low:+.3f} to {record.ic.interval.high:+.3f}"
    assert ic[3:] == [str(record.ic.n), str(record.ic.n_dates),
                      f"{record.ic.resamples_defined} of 200"]
    for bucket in record.calibration:
        assert cells(text, bucket_label(bucket))[1:3] == [str(bucket.n), str(bucket.hits)]
    assert record.verdict_text.split(":")[0] in text


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    text = render_markdown(records(), title=HOSTILE, benchmark=HOSTILE)
    for block in text.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {r.replace("\\|", "").count("|") for r in rows}
            assert len(widths) == 1, block


def test_text_from_outside_is_escaped() -> None:
    text = render_markdown(records(), title=HOSTILE, benchmark=HOSTILE)
    assert "<script>" not in text
    assert text.startswith("# \\<script\\>alert(1)\\</script\\> \\| \\[x\\](javascript")
    html = render_report_html(text)
    assert "<script" not in html and "<a " not in html and "href" not in html


def test_undefined_statistics_say_why() -> None:
    rows = [(d, t, Verdict.HOLD, c, e, None) for d, t, _, c, e, _ in FIXED]
    text = render_markdown(summarise(decisions(rows), 21, resamples=100))
    assert "- IC: every scored verdict is hold, so the score ranks nothing." in text
    assert "- Long-short spread: no scored buy or sell verdict." in text
    assert cells(text, "IC (Spearman, signed score)")[1:3] == ["n/a", "n/a"]
    assert "No evidence of signal: too little data to tell" in text


def test_the_contamination_flag_only_with_a_cutoff() -> None:
    flagged = render_markdown(records(cutoff=date(2020, 7, 1)))
    assert ("> **Possibly contaminated**: 4 of 12 decisions are dated before the model's "
            "training cutoff (2020-07-01)") in flagged
    assert "Possibly contaminated" not in render_markdown(records())


def test_the_report_is_deterministic() -> None:
    assert render_markdown(records()) == render_markdown(records())
    assert cumulative_long_short_svg(records()) == cumulative_long_short_svg(records())
    assert calibration_svg(records()) == calibration_svg(records())


# -- backtest.json ---------------------------------------------------------------------------


def test_backtest_json_has_one_object_per_memo_beside_the_summary() -> None:
    rows = decisions()
    document = json.loads(json.dumps(backtest_json(list(reversed(rows)), records())))
    assert set(document) == {"decisions", "summary"}
    assert len(document["decisions"]) == len(rows)
    first = document["decisions"][0]
    assert first == {"ticker": "AAA", "as_of": "2020-01-02", "job_id": "AAA-2020-01-02",
                     "verdict": "buy", "confidence": 0.7,
                     "forward_excess_return": {"21": 0.04, "63": 0.10}}
    assert document["decisions"][1]["forward_excess_return"] == {"21": -0.02, "63": None}
    assert [d["as_of"] for d in document["decisions"]] == sorted(
        d["as_of"] for d in document["decisions"])
    assert set(document["summary"]) == {"21", "63"}
    assert document["summary"]["21"]["horizon"] == 21
    assert TrackRecord.model_validate(document["summary"]["63"]) == records()[0]
    assert [Decision.model_validate(d) for d in document["decisions"]] == sorted(
        rows, key=lambda d: (d.as_of, d.ticker))


# -- SVG -------------------------------------------------------------------------------------


def test_cumulative_long_short_draws_each_horizon_running_sum() -> None:
    shown = [summarise(synthetic(0.02, seed=3), h, resamples=100) for h in (21,)]
    svg = cumulative_long_short_svg(shown)
    root, drawn = parse_chart(svg)
    assert root.find(f"{SVG_NS}title") is not None and root.find(f"{SVG_NS}desc") is not None
    assert root.get("role") == "img"
    line = drawn["21 trading days"]
    expected = [100 * p.cumulative for p in shown[0].long_short_by_date]
    assert line.values == pytest.approx(expected, abs=0.01)
    assert line.xs == sorted(line.xs)
    description = root.findtext(f"{SVG_NS}desc") or ""
    assert f"{expected[-1]:+.1f} points after {len(expected)} dates" in description


def test_cumulative_long_short_with_two_horizons_and_without_data() -> None:
    svg = cumulative_long_short_svg(records())
    _, drawn = parse_chart(svg)
    assert set(drawn) == {"21 trading days", "63 trading days"}
    rows = [(d, t, Verdict.BUY, c, e, None) for d, t, _, c, e, _ in FIXED]
    empty = cumulative_long_short_svg(summarise(decisions(rows), 21, resamples=50))
    root = ET.fromstring(empty)
    assert root.get("data-y-domain") is None
    assert "No date had both a buy and a sell to compare." in texts(root)


def test_calibration_bars_are_the_hit_rates() -> None:
    record = summarise(synthetic(0.02, seed=3), 21, resamples=100)
    root = ET.fromstring(calibration_svg(record))
    assert root.get("data-y-domain") == "0 100"
    bars = list(root.iter(f"{SVG_NS}rect"))[1:]  # the first is the background
    drawn = {int(b.get("data-bucket") or -1): b for b in bars}
    for index, bucket in enumerate(record.calibration):
        if bucket.rate is None:
            assert index not in drawn
            continue
        bar = drawn[index]
        assert float(bar.get("data-rate") or 0) == pytest.approx(bucket.rate)
        assert float(bar.get("height") or 0) == pytest.approx(PLOT_H * bucket.rate, abs=0.01)
        assert f"{bucket.hits} of {bucket.n} hit" in (bar.findtext(f"{SVG_NS}title") or "")
    labels = texts(root)
    assert [bucket_label(b) for b in record.calibration] == [
        t for t in labels if " to " in t]
    assert "n=0" in labels  # the empty lowest bucket says so


def test_svg_text_is_escaped_and_well_formed() -> None:
    for svg in (calibration_svg(records()), cumulative_long_short_svg(records())):
        ET.fromstring(svg)  # raises on anything unescaped
        assert "< " not in svg  # every "<" opens a tag
    svg = calibration_svg(records())
    assert "0.20 to &lt; 0.40" in svg
    assert "0.20 to < 0.40" in texts(ET.fromstring(svg))
