"""Recent news from Yahoo Finance's ticker stream through yfinance (`Ticker.news`)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import requests
import yfinance as yf
from yfinance.exceptions import YFRateLimitError

from shared.domain.evidence import NewsArticle, NewsResult
from shared.errors import NewsUnavailable
from shared.sources.market.yahoo_session import (
    YAHOO_ERRORS,
    YAHOO_LOCK,
    prepare,
    shared_session,
    yahoo_failure,
)
from shared.sources.news.base import dated_by, news_result
from shared.sources.news.excerpts import domain_of, parse_published, trim_excerpt

PROVIDER = "yfinance"

log = logging.getLogger(__name__)


class YFinanceNews:
    """NEWS_PROVIDER=yfinance: Yahoo's latest stories on the ticker; the excerpt is the summary.

    Shares `YAHOO_LOCK` and the session rules of the market data provider (see
    `shared.sources.market.yahoo_session`). Failures raise `NewsUnavailable`; an empty stream is a
    typed `empty` outcome with a data gap. Yahoo does not say why a stream is empty, and
    yfinance reads the news body without checking its status, so a 5xx whose body is JSON
    also looks empty.

    Point in time (`as_of`): Yahoo's stream is today's; an item is kept only when its pubDate is
    known and not after `as_of` (most streams then keep nothing, and the memo says so).
    """

    name: str = PROVIDER

    def __init__(
        self,
        session: requests.Session | None = None,
        max_articles: int = 5,
        max_chars: int = 1500,
        timeout: float = 20,
    ) -> None:
        self.max_articles = max_articles
        self.max_chars = max_chars
        self._session: Any = session if session is not None else shared_session(timeout)

    def search(self, ticker: str, as_of: date | None = None) -> NewsResult:
        symbol = ticker.strip().upper()
        with YAHOO_LOCK:
            prepare()
            try:
                items = yf.Ticker(symbol, session=self._session).news
            except YFRateLimitError as exc:
                raise NewsUnavailable("Yahoo Finance news is rate limited (HTTP 429)") from exc
            except YAHOO_ERRORS as exc:
                raise NewsUnavailable(
                    f"Yahoo Finance news failed for {symbol}: {yahoo_failure(exc)}"
                ) from exc
        articles = self._articles(items if isinstance(items, list) else [], as_of)
        log.info("yfinance news: %d articles for %s", len(articles), symbol)
        empty = f"Yahoo Finance lists no recent news for {symbol}"
        if as_of is not None:
            empty = (
                f"Yahoo Finance lists no news on {symbol} dated on or before "
                f"{as_of.isoformat()}"
            )
        return news_result(PROVIDER, articles, empty)

    def _articles(self, items: list[Any], as_of: date | None = None) -> list[NewsArticle]:
        articles: list[NewsArticle] = []
        for item in items:
            content = item.get("content") if isinstance(item, dict) else None
            if not isinstance(content, dict) or not _text(content.get("title")):
                continue
            published = parse_published(content.get("pubDate"))
            if not dated_by(published, as_of):
                continue
            url = _url(content.get("canonicalUrl")) or _url(content.get("clickThroughUrl"))
            provider = content.get("provider")
            source = _text(provider.get("displayName")) if isinstance(provider, dict) else None
            articles.append(NewsArticle(
                id=f"n{len(articles) + 1}",
                title=_text(content.get("title")) or "",
                url=url,
                source=source or domain_of(url),
                published_at=published,
                excerpt=trim_excerpt(_text(content.get("summary")) or "", self.max_chars),
            ))
            if len(articles) == self.max_articles:
                break
        return articles


def _url(link: object) -> str | None:
    return _text(link.get("url")) if isinstance(link, dict) else None


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
