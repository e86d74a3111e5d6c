"""Recent news through Firecrawl's search, with each result scraped to markdown."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import requests
from firecrawl import Firecrawl
from firecrawl.v2.types import ScrapeOptions
from firecrawl.v2.utils.error_handler import FirecrawlError

from shared.domain.evidence import NewsArticle, NewsResult
from shared.errors import ConfigurationError, NewsUnavailable
from shared.sources.news.base import dated_by, news_result
from shared.sources.news.excerpts import domain_of, parse_published, plain_text, trim_excerpt

PROVIDER = "firecrawl"
RECENCY = "qdr:w"  # Google's "past week"
# The account or key is wrong: retrying cannot help (401 key, 402 credits, 403 refused).
PERMANENT_STATUSES = frozenset({401, 402, 403})
MAX_SERVER_TIMEOUT_MS = 300_000

log = logging.getLogger(__name__)


class FirecrawlNews:
    """NEWS_PROVIDER=firecrawl: a week of news on the ticker, each page trimmed to an excerpt.

    One HTTP attempt per search (`max_retries=1` in the client): retries belong to Durable's
    retry policy, which sees `NewsUnavailable` for 408, 429, 5xx, timeouts and connection
    errors. A rejected key or account (401, 402, 403) raises `ConfigurationError`. No results
    is a typed `empty` outcome with a data gap. There is no fallback to another provider.

    Point in time (`as_of`): the search asks Google for the week up to `as_of` (`tbs` custom
    date range) and keeps a result only when its publication date is known and not after
    `as_of`, whatever the search returned.
    """

    name: str = PROVIDER

    def __init__(
        self,
        api_key: str,
        api_url: str | None,
        max_articles: int,
        max_chars: int,
        timeout: float,
    ) -> None:
        self.max_articles = max_articles
        self.max_chars = max_chars
        self.timeout = timeout
        self._client = Firecrawl(
            api_key=api_key, api_url=api_url, timeout=timeout, max_retries=1
        )

    def search(self, ticker: str, as_of: date | None = None) -> NewsResult:
        try:
            found = self._client.search(
                f"{ticker} stock news",
                limit=self.max_articles,
                tbs=RECENCY if as_of is None else _week_until(as_of),
                timeout=_server_budget_ms(self.timeout),
                scrape_options=ScrapeOptions(formats=["markdown"], only_main_content=True),
            )
        except FirecrawlError as exc:
            status = exc.status_code
            if status in PERMANENT_STATUSES:
                raise ConfigurationError(
                    f"Firecrawl rejected the request (HTTP {status}): check FIRECRAWL_API_KEY "
                    "and the account"
                ) from exc
            raise NewsUnavailable(f"Firecrawl search failed (HTTP {status})") from exc
        except requests.RequestException as exc:
            raise NewsUnavailable(f"Firecrawl search failed: {type(exc).__name__}") from exc

        results = [*(found.web or []), *(found.news or [])]
        articles = self._articles(results, as_of)
        log.info("firecrawl: %d results, %d articles for %s", len(results), len(articles), ticker)
        empty = f"Firecrawl found no news on {ticker} from the past week"
        if as_of is not None:
            empty = (
                f"Firecrawl found no dated news on {ticker} from the week up to "
                f"{as_of.isoformat()}"
            )
        return news_result(PROVIDER, articles, empty)

    def _articles(self, results: list[Any], as_of: date | None = None) -> list[NewsArticle]:
        articles: list[NewsArticle] = []
        seen: set[str] = set()
        for result in results:
            fields = _fields(result)
            if fields is None or fields["url"] in seen:
                continue
            published = parse_published(fields["published"])
            if not dated_by(published, as_of):
                continue
            seen.add(fields["url"])
            articles.append(NewsArticle(
                id=f"n{len(articles) + 1}",
                title=fields["title"],
                url=fields["url"],
                source=domain_of(fields["url"]),
                published_at=published,
                excerpt=trim_excerpt(fields["text"], self.max_chars),
            ))
            if len(articles) == self.max_articles:
                break
        return articles


def _week_until(as_of: date) -> str:
    """Google's custom date range for the week ending on `as_of` (`cdr`, dates as M/D/YYYY)."""
    start = as_of - timedelta(days=7)
    return (
        f"cdr:1,cd_min:{start.month}/{start.day}/{start.year},"
        f"cd_max:{as_of.month}/{as_of.day}/{as_of.year}"
    )


def _server_budget_ms(timeout: float) -> int:
    """Firecrawl's own search budget: a little under ours, so it answers before we give up
    (the API accepts at most 300 000 ms)."""
    return max(1, min(int(timeout * 900), MAX_SERVER_TIMEOUT_MS))


def _fields(result: Any) -> dict[str, Any] | None:
    """url, title, published, text of a scraped Document or a bare search hit; None if no url."""
    metadata = getattr(result, "metadata", None)
    if metadata is not None:  # a scraped Document
        url = metadata.url or metadata.source_url or metadata.og_url
        title = metadata.title or metadata.og_title
        published = metadata.published_time or metadata.extras.get("article:published_time")
        text = plain_text(result.markdown or "") or (metadata.description or "")
    else:  # SearchResultWeb / SearchResultNews: the page was not scraped
        url = getattr(result, "url", None)
        title = getattr(result, "title", None)
        published = getattr(result, "date", None)
        text = getattr(result, "description", None) or getattr(result, "snippet", None) or ""
    if not url:
        return None
    return {"url": url, "title": title or domain_of(url) or url, "published": published,
            "text": text}
