"""News providers through their real clients: firecrawl-py against a stand-in server on
127.0.0.1, yfinance against canned Yahoo JSON. Nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from devhost.azurite import free_port
from shared.errors import ConfigurationError, NewsUnavailable
from shared.sources.news.excerpts import ELLIPSIS
from shared.sources.news.firecrawl_news import FirecrawlNews
from shared.sources.news.yfinance_news import YFinanceNews
from tests.standins.firecrawl_server import FirecrawlStandIn, document
from tests.standins.yahoo_transport import FakeYahoo, fixture, isolate_yfinance

API_KEY = "fc-test-key"
LONG_STORY = " ".join(
    ["Apple's services segment grew again, and analysts raised their estimates."] * 40
)


@pytest.fixture
def firecrawl() -> Iterator[FirecrawlStandIn]:
    with FirecrawlStandIn() as server:
        yield server


def firecrawl_news(
    server: FirecrawlStandIn, max_articles: int = 5, max_chars: int = 300, timeout: float = 5
) -> FirecrawlNews:
    return FirecrawlNews(
        api_key=API_KEY, api_url=server.url, max_articles=max_articles, max_chars=max_chars,
        timeout=timeout,
    )


def test_firecrawl_articles_are_numbered_trimmed_and_attributed(
    firecrawl: FirecrawlStandIn,
) -> None:
    firecrawl.results(
        document(
            "https://www.reuters.com/technology/apple-services-2025-11-26/",
            "Apple services keep growing",
            "![chart](https://img.example/c.png)\n# Apple services\n\n"
            f"[Apple](https://www.apple.com) said: {LONG_STORY}",
            published="2025-11-26T14:05:00Z",
        ),
        document(
            "https://finance.example.com/aapl-supply",
            "Supply chain checks",
            "Short note on **iPhone** builds.",
        ),
        document(  # the same page twice: kept once
            "https://finance.example.com/aapl-supply", "Supply chain checks (dup)", "Again."
        ),
    )

    result = firecrawl_news(firecrawl, max_chars=300).search("AAPL")

    assert result.provider == "firecrawl" and result.status == "ok" and result.gaps == []
    assert [a.id for a in result.articles] == ["n1", "n2"]
    first, second = result.articles
    assert first.title == "Apple services keep growing"
    assert first.url == "https://www.reuters.com/technology/apple-services-2025-11-26/"
    assert first.source == "reuters.com"
    assert first.published_at == datetime(2025, 11, 26, 14, 5, tzinfo=UTC)
    assert len(first.excerpt) <= 300 and first.excerpt.endswith(ELLIPSIS)
    body = first.excerpt.removesuffix(ELLIPSIS)
    assert body.startswith("# Apple services Apple said: Apple's services")  # links to text
    assert "img.example" not in first.excerpt and "](" not in first.excerpt
    full = "# Apple services Apple said: " + LONG_STORY
    assert full.startswith(body) and full[len(body)] in " ,.;:"  # cut at a word boundary
    assert second.source == "finance.example.com"
    assert second.published_at is None
    assert second.excerpt == "Short note on **iPhone** builds."

    [seen] = firecrawl.requests
    assert seen.path == "/v2/search"
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "AAPL" in seen.body["query"]
    assert seen.body["limit"] == 5
    assert seen.body["tbs"] == "qdr:w"
    assert seen.body["scrapeOptions"]["formats"] == ["markdown"]
    assert seen.body["timeout"] == 4500  # Firecrawl's budget: 90% of our 5 s


def test_firecrawl_keeps_at_most_max_articles(firecrawl: FirecrawlStandIn) -> None:
    firecrawl.results(*[
        document(f"https://news.example.com/{i}", f"Story {i}", f"Body {i}") for i in range(4)
    ])

    result = firecrawl_news(firecrawl, max_articles=2).search("MSFT")

    assert [a.title for a in result.articles] == ["Story 0", "Story 1"]
    assert firecrawl.requests[0].body["limit"] == 2


def test_firecrawl_without_results_is_empty_with_a_gap(firecrawl: FirecrawlStandIn) -> None:
    firecrawl.results()

    result = firecrawl_news(firecrawl).search("AAPL")

    assert result.status == "empty" and result.articles == []
    [gap] = result.gaps
    assert gap.source == "news" and gap.code == "news_empty" and "AAPL" in gap.message


@pytest.mark.parametrize("status", [429, 500, 503, 408])
def test_firecrawl_outages_are_transient(firecrawl: FirecrawlStandIn, status: int) -> None:
    firecrawl.respond(status, {"success": False, "error": "try later"})

    with pytest.raises(NewsUnavailable) as raised:
        firecrawl_news(firecrawl).search("AAPL")

    assert str(status) in raised.value.message
    assert len(firecrawl.requests) == 1  # retries are Durable's, not the client's


@pytest.mark.parametrize("status", [401, 403])
def test_firecrawl_rejected_key_is_a_configuration_error(
    firecrawl: FirecrawlStandIn, status: int
) -> None:
    firecrawl.respond(status, {"success": False, "error": "Unauthorized: Invalid token"})

    with pytest.raises(ConfigurationError) as raised:
        firecrawl_news(firecrawl).search("AAPL")

    assert raised.value.code == "configuration_error"
    assert API_KEY not in raised.value.message


def test_firecrawl_timeout_is_transient(firecrawl: FirecrawlStandIn) -> None:
    firecrawl.respond(200, None, delay=2.0)

    with pytest.raises(NewsUnavailable) as raised:
        firecrawl_news(firecrawl, timeout=0.3).search("AAPL")

    assert isinstance(raised.value.__cause__, requests.Timeout)


def test_firecrawl_unreachable_is_transient() -> None:
    news = FirecrawlNews(
        api_key=API_KEY, api_url=f"http://127.0.0.1:{free_port()}", max_articles=5,
        max_chars=300, timeout=2,
    )

    with pytest.raises(NewsUnavailable) as raised:
        news.search("AAPL")

    assert isinstance(raised.value.__cause__, requests.ConnectionError)


@pytest.fixture
def yahoo(tmp_path_factory: pytest.TempPathFactory) -> FakeYahoo:
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    return FakeYahoo()


def test_yfinance_news_maps_the_ticker_stream(yahoo: FakeYahoo) -> None:
    yahoo.add("AAPL", news=fixture("news_AAPL.json"))

    result = YFinanceNews(session=yahoo.session(), max_articles=5, max_chars=120).search("aapl")

    assert result.provider == "yfinance" and result.status == "ok"
    assert [a.id for a in result.articles] == ["n1", "n2"]  # the ad is not an article
    first, second = result.articles
    assert first.title == "Apple extends gains as holiday iPhone demand holds up"
    assert first.url == "https://www.reuters.com/technology/apple-extends-gains-2025-11-26/"
    assert first.source == "Reuters"
    assert first.published_at == datetime(2025, 11, 26, 18, 42, 11, tzinfo=UTC)
    assert len(first.excerpt) <= 120 and first.excerpt.endswith(ELLIPSIS)
    assert first.excerpt.startswith("Apple shares rose for a third session")
    assert second.source == "Yahoo Finance"
    assert second.excerpt.startswith("Regulators ordered changes")
    assert yahoo.count("news") == 1


def test_yfinance_news_without_stories_is_empty_with_a_gap(yahoo: FakeYahoo) -> None:
    result = YFinanceNews(session=yahoo.session()).search("AAPL")

    assert result.status == "empty" and result.articles == []
    assert [g.code for g in result.gaps] == ["news_empty"]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, "Too Many Requests", None),
        (500, "<html>Internal Server Error</html>", None),
        (0, "", requests.ConnectionError("connection reset")),
    ],
)
def test_yfinance_news_failures_are_transient(
    yahoo: FakeYahoo, status: int, body: str, error: Exception | None
) -> None:
    yahoo.fail("news", status=status, body=body, error=error)

    with pytest.raises(NewsUnavailable):
        YFinanceNews(session=yahoo.session()).search("AAPL")
