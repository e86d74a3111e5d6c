"""The look-ahead guard of a point-in-time analysis: no evidence dated after `as_of`.

Pure: it reads evidence models and raises. Every dated item counts (each close of the ticker's
and the benchmark's series, each snapshot's and each metric's `as_of`, each article's
publication date, and an article whose date is unknown), compared as a UTC calendar date with
`as_of`. A violation is never trimmed away: it raises `LookaheadViolation` naming the first
offending item, because evidence from after `as_of` means a provider leaked the future, and a
memo built around the gap would hide that.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

from shared.domain.evidence import MarketSnapshot, NewsResult, PriceSeries, QuantResult
from shared.errors import LookaheadViolation

# (what the item is, its date; None for an article whose publication date is unknown)
DatedItem = tuple[str, date | None]


def utc_day(moment: datetime | date) -> date:
    """The UTC calendar date of a moment (a naive datetime is taken as UTC); a date as is."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    return moment


def on_or_before(moment: datetime | date, as_of: date) -> bool:
    return utc_day(moment) <= as_of


def check_snapshot(snapshot: MarketSnapshot, as_of: date | None) -> None:
    """Raise LookaheadViolation when anything in a market snapshot is dated after `as_of`."""
    if as_of is not None:
        _first_violation(_snapshot_items(snapshot), as_of)


def check_evidence(quant: QuantResult, news: NewsResult | None, as_of: date | None) -> None:
    """Raise LookaheadViolation when any dated item of the evidence is after `as_of` (or is an
    article of unknown date). Without `as_of` there is nothing to check."""
    if as_of is not None:
        _first_violation(evidence_items(quant, news), as_of)


def evidence_items(quant: QuantResult, news: NewsResult | None) -> Iterator[DatedItem]:
    """Every dated item of the evidence a memo is written from, in memo order."""
    yield from _series_items("ticker series", quant.ticker_series)
    yield from _series_items("benchmark series", quant.benchmark_series)
    for metric in quant.metrics:
        if metric.as_of is not None:
            yield f"metric {metric.id} (as of)", utc_day(metric.as_of)
    for article in news.articles if news is not None else []:
        when = utc_day(article.published_at) if article.published_at is not None else None
        yield f"news article {article.id} ({article.title[:60]!r})", when


def _snapshot_items(snapshot: MarketSnapshot) -> Iterator[DatedItem]:
    yield f"{snapshot.symbol} snapshot (as of)", utc_day(snapshot.as_of)
    yield from _series_items(f"{snapshot.symbol} series", snapshot.series)


def _series_items(what: str, series: PriceSeries | None) -> Iterator[DatedItem]:
    if series is not None:
        for day in series.dates:
            yield f"{what} ({series.symbol}) close", day


def _first_violation(items: Iterator[DatedItem], as_of: date) -> None:
    for what, day in items:
        if day is None:
            raise LookaheadViolation(
                f"look-ahead guard: {what} has no known date; a point-in-time analysis as of "
                f"{as_of.isoformat()} keeps only dated evidence"
            )
        if day > as_of:
            raise LookaheadViolation(
                f"look-ahead guard: {what} is dated {day.isoformat()}, after as_of "
                f"{as_of.isoformat()}"
            )
