from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from shared.domain.evidence import DataGap, NewsArticle, NewsResult
from shared.domain.lookahead import on_or_before


class NewsProvider(Protocol):
    name: str

    def search(self, ticker: str, as_of: date | None = None) -> NewsResult:
        """Recent articles on the company; transient failures raise NewsUnavailable.

        With `as_of`, only articles whose publication date is known and on or before `as_of`
        (`dated_by`): the others are dropped before the article limit."""
        ...


def dated_by(published: datetime | None, as_of: date | None) -> bool:
    """Whether a point-in-time search may keep an article: always without `as_of`; with it,
    only when its publication date is known and (as a UTC date) not after `as_of`."""
    if as_of is None:
        return True
    return published is not None and on_or_before(published, as_of)


def news_result(provider: str, articles: list[NewsArticle], empty_message: str) -> NewsResult:
    """`ok` with the articles, or `empty` with a gap that says so in the memo."""
    if articles:
        return NewsResult(provider=provider, status="ok", articles=articles)
    gap = DataGap(source="news", code="news_empty", message=empty_message)
    return NewsResult(provider=provider, status="empty", gaps=[gap])
