from __future__ import annotations

from typing import Protocol

from shared.domain.evidence import DataGap, NewsArticle, NewsResult


class NewsProvider(Protocol):
    name: str

    def search(self, ticker: str) -> NewsResult:
        """Recent articles on the company; transient failures raise NewsUnavailable."""
        ...


def news_result(provider: str, articles: list[NewsArticle], empty_message: str) -> NewsResult:
    """`ok` with the articles, or `empty` with a gap that says so in the memo."""
    if articles:
        return NewsResult(provider=provider, status="ok", articles=articles)
    gap = DataGap(source="news", code="news_empty", message=empty_message)
    return NewsResult(provider=provider, status="empty", gaps=[gap])
