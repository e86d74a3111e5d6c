"""shared.render.comparison: sections, the simulated notice, escaping, failed members."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from shared.agents.portfolio import offline_summary
from shared.domain.comparison import BatchMember, Comparison, PortfolioSummary, compare
from shared.domain.evidence import DataGap
from shared.domain.models import Grounding, JobStatus, Usage, Verdict
from shared.render.comparison import DISCLAIMER, SIMULATED_WARNING, render_comparison
from shared.render.memo_html import ALLOWED_TAGS, render_report_html
from tests.shared.domain.comparison_samples import (
    batch,
    completed,
    failed,
    news,
    quant_for,
    series,
    walk,
    weekdays,
)

CREATED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SECTIONS = [
    "## Portfolio Strategist",
    "## Ranking",
    "## Correlation",
    "## Equal-weighted portfolio",
    "## Data gaps",
    "## Provenance",
]
HOSTILE = "<script>alert('x')</script> | [click](javascript:alert(1)) <img src=x onerror=alert(2)>"


def render(comparison: Comparison, summary: PortfolioSummary | None = None) -> str:
    return render_comparison("batch-1", CREATED, comparison, summary or offline_summary(comparison))


def test_sections_in_order_and_the_simulated_notice() -> None:
    members, _ = batch()
    comparison = compare(members)
    assert comparison.simulated
    memo = render(comparison)
    assert memo.startswith("# Comparison memo: BBB, AAA, CCC, ZZZZ\n\n" + SIMULATED_WARNING)
    positions = [memo.index(f"\n{s}\n") for s in SECTIONS]
    assert positions == sorted(positions)
    assert memo.endswith(DISCLAIMER + "\n")
    assert "Rules applied:" in memo and "Warnings:" in memo


def test_no_simulated_notice_for_real_data() -> None:
    days = weekdays(80)
    real = [completed(t, quant_for(t, series(t, days, walk(i, days)), None, simulated=False))
            for i, t in enumerate(("AAA", "BBB"), start=1)]
    comparison = compare(real)
    assert not comparison.simulated
    memo = render(comparison)
    assert "SIMULATED" not in memo


def test_failed_members_are_ranked_last_with_their_code() -> None:
    members, _ = batch()
    members.append(BatchMember(ticker="CAN", job_id="job-can", status=JobStatus.CANCELLED))
    memo = render(compare(members))
    rows = [r for r in memo.splitlines() if r.startswith("| ")]
    ticker_rows = [r for r in rows if re.match(r"\| (\d+|n/a) \| [A-Z]", r)]
    assert [r.split(" | ")[1].split(" ")[0] for r in ticker_rows] == [
        "BBB", "AAA", "CCC", "CAN", "ZZZZ"]
    assert "| n/a | ZZZZ | failed (`unknown_ticker`) |" in memo
    assert "| n/a | CAN | cancelled (`cancelled`) |" in memo
    assert "- ZZZZ, analysis / unknown\\_ticker" not in memo  # codes are not over-escaped
    assert "- ZZZZ, analysis / unknown_ticker: the simulated market does not know it" in memo
    assert "- ZZZZ: job `job-zzzz`, failed" in memo


def test_correlation_matrix_at_two_decimals() -> None:
    members, _ = batch()
    comparison = compare(members)
    memo = render(comparison)
    assert comparison.correlation is not None
    header = "| | " + " | ".join(comparison.correlation.tickers) + " |"
    assert header in memo
    for ticker, row in zip(comparison.correlation.tickers, comparison.correlation.rounded(),
                           strict=True):
        assert f"| {ticker} | " + " | ".join(f"{v:.2f}" for v in row if v is not None) + " |" \
            in memo
    window = comparison.portfolio.window
    assert window is not None
    assert (f"Window: {window.start.isoformat()} to {window.end.isoformat()}, 253 shared dates, "
            "252 daily returns") in memo


def test_one_member_says_why_there_is_no_correlation() -> None:
    members, _ = batch()
    memo = render(compare([m for m in members if m.ticker == "AAA"]))
    assert "## Correlation\n\nNot computed: 1 completed member(s) with a price series" in memo


def hostile_comparison() -> Comparison:
    days = weekdays(80)
    gap = DataGap(source="news", code="news_failed", message=f"provider said {HOSTILE}\n## Fake")
    evil = completed(
        "EVIL",
        quant_for("EVIL", series("EVIL", days, walk(1, days)), None, company_name=HOSTILE,
                  gaps=[gap]),
        Verdict.BUY, 0.5,
        news_result=news(title=HOSTILE, url="javascript:alert(3)"),
    )
    other = completed("GOOD", quant_for("GOOD", series("GOOD", days, walk(2, days)), None))
    bad = failed("BAD", code="market_data_unavailable", message=f"# heading\n{HOSTILE}")
    return compare([evil, other, bad])


def test_hostile_strings_from_evidence_and_model_are_escaped() -> None:
    comparison = hostile_comparison()
    summary = PortfolioSummary(
        text=f"EVIL leads [EVIL].\n# Not a heading\n| not | a table |\n{HOSTILE}",
        warnings=[f"Watch {HOSTILE} [EVIL]"],
        cited_ids=["EVIL"],
        writer="gpt-<b>x</b>",
        grounding=Grounding.UNGROUNDED,
        violations=[f'text: number "{HOSTILE}" is not in the evidence'],
        usage=Usage(llm_calls=1, prompt_tokens=10, completion_tokens=5),
    )
    memo = render(comparison, summary)

    # Evidence text (company name, error message, gap message) is literal text, escaped; the
    # model's prose stays Markdown, as the memo's thesis does, made inert by memo_html below.
    after_summary = memo[memo.index("\n## Ranking\n"):]
    assert not re.search(r"(?<!\\)<", after_summary), "an unescaped < in evidence text"
    assert after_summary.count("\\<script\\>") >= 3
    assert "\\[click\\](javascript:alert(1))" in after_summary
    assert "\n# Not a heading" not in memo and "\\# Not a heading" in memo
    assert "\n## Fake" not in memo
    assert [line for line in memo.splitlines() if line.startswith("## ")] == SECTIONS

    html = render_report_html(memo)
    tags = Tags.of(html)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS
    assert not {"script", "img", "b"} & {tag for tag, _ in tags}
    hrefs = [str(attrs.get("href")) for tag, attrs in tags if tag == "a"]
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    assert all(not name.startswith("on") for _, attrs in tags for name in attrs)
    assert [t for t, _ in tags].count("h2") == len(SECTIONS)
    # the ranking table keeps its shape: 13 cells a row, a row per member
    ranking = html.split("<h2>Ranking</h2>")[1].split("</table>")[0]
    body_rows = ranking.split("<tbody>")[1].split("<tr>")[1:]
    assert len(body_rows) == 3
    assert all(row.count("<td>") == 13 for row in body_rows)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str | None]]]:
        parser = cls()
        parser.feed(html)
        return parser.tags


def test_missing_values_stay_missing_with_their_reason() -> None:
    days = weekdays(40)
    a = series("AAA", days[:25], walk(1, days[:25]))
    b = series("BBB", days[10:], walk(2, days[10:]))
    comparison = compare([completed("AAA", quant_for("AAA", a, None)),
                          completed("BBB", quant_for("BBB", b, None))])
    memo = render(comparison)
    assert "| n/a: the completed members share 14 daily returns; at least 20 needed |" in memo
    assert not re.search(r"\b(nan|NaN|None|inf|Infinity)\b", memo)
    assert "- Batch, comparison / too_few_shared_returns:" in memo


def test_a_point_in_time_comparison_says_as_of_under_its_title() -> None:
    members, _ = batch()
    comparison = compare(members)
    summary = offline_summary(comparison)
    dated = render_comparison("b" * 32, CREATED, comparison, summary, as_of=date(2019, 6, 28))
    assert "**As of 2019-06-28**" in "\n".join(dated.splitlines()[:5])
    assert "As of" not in render_comparison("b" * 32, CREATED, comparison, summary)
