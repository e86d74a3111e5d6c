"""The look-ahead guard: every dated item of the evidence, never trimmed, the first one named."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from activities.quant_analyst import quant_result
from shared.domain.as_of import check_as_of, parse_as_of
from shared.domain.evidence import NewsArticle, NewsResult, PriceSeries
from shared.domain.lookahead import check_evidence, check_snapshot
from shared.errors import InvalidAsOf, LookaheadViolation
from shared.sources.market.simulated import SimulatedMarketData

AS_OF = date(2024, 3, 15)


def evidence() -> tuple:
    market = SimulatedMarketData()
    subject, bench = market.fetch("AAPL", AS_OF), market.fetch("SPY", AS_OF)
    return subject, bench, quant_result("AAPL", subject, bench, [])


def article(published: datetime | None, id_: str = "n1") -> NewsArticle:
    return NewsArticle(id=id_, title="A story", published_at=published)


def test_evidence_as_of_passes_and_without_as_of_nothing_is_checked() -> None:
    subject, bench, quant = evidence()
    news = NewsResult(provider="x", status="ok",
                      articles=[article(datetime(2024, 3, 15, 23, 59, tzinfo=UTC))])
    check_evidence(quant, news, AS_OF)
    check_snapshot(subject, AS_OF)
    future = NewsResult(provider="x", status="ok", articles=[article(datetime(2030, 1, 1))])
    check_evidence(quant, future, None)


def test_a_series_point_after_as_of_is_a_violation_not_a_trim() -> None:
    subject, bench, quant = evidence()
    assert quant.ticker_series is not None
    leaked = PriceSeries(
        symbol="AAPL", dates=[*quant.ticker_series.dates, date(2024, 3, 18)],
        closes=[*quant.ticker_series.closes, 1.0], source="simulated",
    )
    with pytest.raises(LookaheadViolation, match=r"ticker series \(AAPL\) close is dated "
                                                 r"2024-03-18, after as_of 2024-03-15"):
        check_evidence(quant.model_copy(update={"ticker_series": leaked}), None, AS_OF)
    assert len(leaked.dates) == len(quant.ticker_series.dates) + 1  # nothing was trimmed


def test_a_snapshot_dated_after_as_of_is_a_violation() -> None:
    subject, _, _ = evidence()
    late = subject.model_copy(update={"as_of": datetime(2024, 3, 16, 1, tzinfo=UTC)})
    with pytest.raises(LookaheadViolation, match="AAPL snapshot"):
        check_snapshot(late, AS_OF)


def test_a_metric_dated_after_as_of_is_a_violation() -> None:
    _, _, quant = evidence()
    metrics = [m.model_copy(update={"as_of": datetime(2024, 4, 1, tzinfo=UTC)})
               if m.id == "pe_ratio" else m for m in quant.metrics]
    with pytest.raises(LookaheadViolation, match="metric pe_ratio"):
        check_evidence(quant.model_copy(update={"metrics": metrics}), None, AS_OF)


@pytest.mark.parametrize(
    ("published", "said"),
    [
        (datetime(2024, 3, 16, 0, 30, tzinfo=UTC), "dated 2024-03-16"),
        (datetime(2024, 3, 15, 21, 0), None),  # naive: taken as UTC, the 15th
        (None, "has no known date"),
    ],
)
def test_news_must_be_dated_on_or_before_as_of(
    published: datetime | None, said: str | None
) -> None:
    _, _, quant = evidence()
    news = NewsResult(provider="x", status="ok",
                      articles=[article(datetime(2024, 3, 1, tzinfo=UTC)),
                                article(published, "n2")])
    if said is None:
        check_evidence(quant, news, AS_OF)
        return
    with pytest.raises(LookaheadViolation, match=f"news article n2.*{said}") as raised:
        check_evidence(quant, news, AS_OF)
    assert raised.value.code == "lookahead_violation"


@pytest.mark.parametrize(
    "value", ["2024-3-15", "15/03/2024", "2024-02-30", "2024-03-15T00:00:00", 20240315, "", True]
)
def test_as_of_must_be_an_iso_date(value: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of(value)


def test_as_of_in_the_future_or_before_the_data_is_refused() -> None:
    assert parse_as_of("2024-03-15") == AS_OF and parse_as_of(None) is None
    check_as_of(AS_OF, AS_OF, {"AAPL": date(1990, 1, 2), "NEW": None})
    with pytest.raises(InvalidAsOf, match="in the future") as future:
        check_as_of(AS_OF, date(2024, 3, 14), {})
    assert (future.value.field, future.value.value) == ("as_of", "2024-03-15")
    with pytest.raises(InvalidAsOf, match="before the market data for AAPL begins"):
        check_as_of(date(1989, 12, 29), AS_OF, {"AAPL": date(1990, 1, 2)})
