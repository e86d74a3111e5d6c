"""Daily closes from our own price store (MARKET_DATA_PROVIDER=history), point in time.

The store (`shared/store/prices.py`) holds what `python -m stockmemo history load` put there:
closes only. So a snapshot has the last close as its price, the 52-week high and low of the
closes in its year, and no market cap, P/E, EPS or reported beta: those are None with the
reason "not in the price store", and completeness and the confidence cap follow.

The benchmark: the orchestrator asks every provider for BENCHMARK_SYMBOL (SPY). When the store's
manifest names a benchmark (the sample: SP500, "S&P 500 index"), that request is answered with
the benchmark's series, whose symbol and label say what it is, so the metric labels, the memo,
the chart and a batch's comparison name the S&P 500 index, not SPY. Without a named benchmark,
SPY is served when the store holds it, else it is unknown (the memo goes on with a data gap).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.domain.evidence import BENCHMARK_SYMBOL, MarketSnapshot, PriceSeries
from shared.errors import ConfigurationError, UnknownTicker
from shared.store.prices import Manifest, PriceStore

SOURCE = "history"
# As yfinance: a 1y return needs 253 closes; a few more keep a full year after the date
# intersection with the benchmark.
KEEP_CLOSES = 260
YEAR_OF_CLOSES = 253
NOT_STORED = "not in the price store (it holds daily closes only)"
_NOT_STORED_FIELDS = ("market_cap", "trailing_pe", "trailing_eps", "beta")


class HistoryMarketData:
    """Snapshots of the symbols in the price store, as of a day or as of the store's last day.

    - `as_of` given: the series ends on the last trading day on or before it, and the
      snapshot's `as_of` is that day; no close after it is read into the snapshot.
    - A symbol the manifest does not list, or one with no close on or before `as_of` (listed
      later): `UnknownTicker`.
    - Nothing loaded: `ConfigurationError` naming the command that loads the sample.
    `store` is for tests; by default the store in the `prices` container of the app's storage.
    """

    name: str = SOURCE

    def __init__(self, store: PriceStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> PriceStore:
        if self._store is None:
            self._store = PriceStore()
        return self._store

    def manifest(self) -> Manifest:
        manifest = self.store.manifest()
        if manifest is None:
            raise ConfigurationError(
                "MARKET_DATA_PROVIDER=history but the price store is empty: load it with "
                "`python -m stockmemo history load --sample` (or `--csv FILE`)"
            )
        return manifest

    def first_date(self, symbol: str) -> date | None:
        """The symbol's first close in the store (the benchmark's for SPY); None when unknown."""
        manifest = self.manifest()
        entry = manifest.symbols.get(_stored_symbol(symbol.strip().upper(), manifest))
        return entry.first if entry is not None else None

    def fetch(self, symbol: str, as_of: date | None = None) -> MarketSnapshot:
        requested = symbol.strip().upper()
        manifest = self.manifest()
        stored = _stored_symbol(requested, manifest)
        if stored not in manifest.symbols:
            raise UnknownTicker(
                f"the price store ({manifest.dataset}) has no closes for {requested}",
                field="ticker",
            )
        rows = self.store.closes(stored)
        if rows is None:
            raise UnknownTicker(
                f"the price store lists {stored} but holds no closes for it: reload it",
                field="ticker",
            )
        if as_of is not None:
            rows = [row for row in rows if row[0] <= as_of]
        if not rows:
            raise UnknownTicker(
                f"the price store has no close for {stored} on or before {as_of}",
                field="ticker",
            )
        rows = rows[-KEEP_CLOSES:]
        last = rows[-1][0]
        year = [close for _, close in rows[-YEAR_OF_CLOSES:]]
        benchmark = manifest.benchmark
        label = benchmark.name if benchmark is not None and stored == benchmark.symbol else None
        source = f"{SOURCE}: {manifest.dataset}"  # the memo says where its prices come from
        return MarketSnapshot(
            symbol=stored,
            source=source,
            as_of=datetime(last.year, last.month, last.day, tzinfo=UTC),
            currency=manifest.currency,
            name=label,
            price=rows[-1][1],
            fifty_two_week_high=max(year),
            fifty_two_week_low=min(year),
            series=PriceSeries(
                symbol=stored,
                dates=[day for day, _ in rows],
                closes=[close for _, close in rows],
                source=source,
                label=label,
            ),
            unavailable={field: NOT_STORED for field in _NOT_STORED_FIELDS},
            point_in_time=as_of,
        )


def _stored_symbol(requested: str, manifest: Manifest) -> str:
    """The symbol to read: the store's benchmark for a request of BENCHMARK_SYMBOL."""
    if requested == BENCHMARK_SYMBOL and manifest.benchmark is not None:
        return manifest.benchmark.symbol
    return requested
