"""Yahoo Finance without the network: a requests transport adapter serving canned Yahoo JSON.

Mounted on a `requests.Session` that is handed to yfinance, it lets yfinance's own request and
parsing code run offline. It answers the endpoints yfinance 1.7 calls (read in its
`data.py`, `scrapers/quote.py`, `scrapers/history.py`, `base.py`):

- cookie and crumb: `https://fc.yahoo.com`, `/v1/test/getcrumb`, the consent pages
- `Ticker.info`: `/v10/finance/quoteSummary/{SYM}`, `/v7/finance/quote?symbols=SYM`,
  `/ws/fundamentals-timeseries/...` (trailing PEG ratio)
- `Ticker.history` and the time-zone lookup: `/v8/finance/chart/{SYM}`
- `Ticker.news`: `POST https://finance.yahoo.com/xhr/ncp?queryRef=latestNews`

Symbols not added answer like Yahoo does for an unknown symbol. Every request is recorded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import yfinance as yf
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from yfinance.data import SingletonMeta, YfData

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "yahoo"


def fixture(name: str) -> Any:
    """A fresh copy of a canned Yahoo body from tests/fixtures/yahoo."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def chart_body(
    meta: dict[str, Any], days: Sequence[date], closes: Sequence[float | None]
) -> dict[str, Any]:
    """A `/v8/finance/chart` body with daily bars (stamped 14:30 UTC, the US open).

    A None close keeps the bar's open, high, low and volume, as Yahoo does for a bad print, so
    yfinance keeps the row and the provider has to drop it. No days: a chart without bars.
    """
    result: dict[str, Any] = {"meta": meta}
    if not days:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}
    stamps = [int(datetime(d.year, d.month, d.day, 14, 30, tzinfo=UTC).timestamp()) for d in days]
    filled = [c if c is not None else 100.0 for c in closes]
    result["timestamp"] = stamps
    result["indicators"] = {
        "quote": [{
            "open": filled,
            "high": [c * 1.01 for c in filled],
            "low": [c * 0.99 for c in filled],
            "close": list(closes),
            "volume": [50_000_000] * len(days),
        }],
        "adjclose": [{"adjclose": list(closes)}],
    }
    return {"chart": {"result": [result], "error": None}}


@dataclass
class Canned:
    status: int
    body: Any  # dict/list -> JSON; str -> HTML


INFRA: dict[str, Canned] = {
    "cookie": Canned(200, ""),
    "consent": Canned(200, "<html><body>consent</body></html>"),
    "crumb": Canned(200, "fake-crumb"),
    "timeseries": Canned(200, {"timeseries": {"result": [], "error": None}}),
}


def _unknown(route: str, symbol: str) -> Canned:
    """What Yahoo answers for a symbol it does not know."""
    if route == "quoteSummary":
        body = fixture("quote_summary_not_found.json")
        body["quoteSummary"]["error"]["description"] = f"Quote not found for symbol: {symbol}"
        return Canned(404, body)
    if route == "quote":
        return Canned(200, {"quoteResponse": {"result": [], "error": None}})
    if route == "chart":
        return Canned(404, fixture("chart_not_found.json"))
    if route == "news":
        return Canned(200, {"data": {"tickerStream": {"stream": []}}})
    return Canned(404, "<html>Not Found</html>")


class FakeYahoo:
    """Scripted Yahoo endpoints; `session()` gives a requests.Session routed to them."""

    def __init__(self) -> None:
        self.symbols: dict[str, dict[str, Canned]] = {}
        self.overrides: dict[str, Canned | BaseException] = {}
        self.symbol_overrides: dict[tuple[str, str], Canned | BaseException] = {}
        self.calls: list[tuple[str, str]] = []

    def add(self, symbol: str, **bodies: Any) -> None:
        """Serve `bodies` (route name -> JSON body, status 200) for `symbol`."""
        routes = self.symbols.setdefault(symbol, {})
        for route, body in bodies.items():
            routes[route] = Canned(200, body)

    def fail(
        self,
        route: str,
        status: int = 500,
        body: Any = "",
        error: BaseException | None = None,
        symbol: str | None = None,
    ) -> None:
        """Every request to `route` answers `status` with `body`, or raises `error`; with
        `symbol`, only the requests for that symbol do (the others are served as usual)."""
        outcome = error if error is not None else Canned(status, body)
        if symbol is None:
            self.overrides[route] = outcome
        else:
            self.symbol_overrides[(route, symbol)] = outcome

    def count(self, route: str, symbol: str | None = None) -> int:
        """Requests seen for `route` (for `symbol` only, when given)."""
        return sum(
            1 for name, seen in self.calls
            if name == route and (symbol is None or seen == symbol)
        )

    def session(self) -> requests.Session:
        session = requests.Session()
        adapter = _Transport(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def answer(self, route: str, symbol: str) -> Canned | BaseException:
        if (route, symbol) in self.symbol_overrides:
            return self.symbol_overrides[(route, symbol)]
        if route in self.overrides:
            return self.overrides[route]
        if route in INFRA:
            return INFRA[route]
        return self.symbols.get(symbol, {}).get(route) or _unknown(route, symbol)


def _route(request: requests.PreparedRequest) -> tuple[str, str]:
    url = urlsplit(str(request.url))
    host, path = url.hostname or "", url.path
    query = parse_qs(url.query)
    if host == "fc.yahoo.com":
        return "cookie", ""
    if host in ("guce.yahoo.com", "consent.yahoo.com"):
        return "consent", ""
    if path == "/v1/test/getcrumb":
        return "crumb", ""
    if path.startswith("/v10/finance/quoteSummary/"):
        return "quoteSummary", unquote(path.rsplit("/", 1)[1])
    if path == "/v7/finance/quote":
        return "quote", query.get("symbols", [""])[0]
    if path.startswith("/ws/fundamentals-timeseries/"):
        return "timeseries", unquote(path.rsplit("/", 1)[1])
    if path.startswith("/v8/finance/chart/"):
        return "chart", unquote(path.rsplit("/", 1)[1])
    if path == "/xhr/ncp":
        raw = request.body if isinstance(request.body, bytes | str) else b"{}"
        body = json.loads(raw or b"{}")
        return "news", (body.get("serviceConfig", {}).get("s") or [""])[0]
    return "other", ""


class _Transport(HTTPAdapter):
    def __init__(self, fake: FakeYahoo) -> None:
        super().__init__()
        self.fake = fake

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        route, symbol = _route(request)
        self.fake.calls.append((route, symbol))
        outcome = self.fake.answer(route, symbol)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome.body, dict | list):
            data, kind = json.dumps(outcome.body).encode(), "application/json;charset=utf-8"
        else:
            data, kind = str(outcome.body).encode(), "text/html;charset=utf-8"
        raw = HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": kind, "Content-Length": str(len(data))},
            status=outcome.status,
            reason=HTTPStatus(outcome.status).phrase,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


_cache_folder: Path | None = None


def isolate_yfinance(cache_folder: Path) -> None:
    """Fresh yfinance state for a test: a new data singleton, caches under `cache_folder`.

    The singleton (session, cookie, crumb, cookie strategy) would otherwise carry over from
    the previous test. yfinance's cache objects keep the first database they open, so the cache
    folder is set once per process (pass the same folder every time: the session's tmp base).
    """
    global _cache_folder
    if _cache_folder is None:
        cache_folder.mkdir(parents=True, exist_ok=True)
        yf.set_tz_cache_location(str(cache_folder))
        _cache_folder = cache_folder
    SingletonMeta._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()
