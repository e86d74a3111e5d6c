"""The price store against the session's Azurite: the sample loads once and then changes
nothing; each malformed CSV is refused with `invalid_price_file` and stores nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from devhost.azurite import Azurite
from shared.errors import InvalidPriceFile
from shared.store.prices import (
    MANIFEST,
    Benchmark,
    Manifest,
    PriceStore,
    closes_blob,
    parse_csv,
    sample_files,
)
from tests.price_sample import load_sample, prices_container, raw_closes

ROOT = Path(__file__).resolve().parents[3]
SYMBOLS = {
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
    "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM", "SP500",
}


def cli(azurite: Azurite, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
    return subprocess.run(
        [sys.executable, "-m", "stockmemo", "history", "load", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def blob_state(container: ContainerClient) -> dict[str, tuple[str, object]]:
    """Every blob's name -> (ETag, last modified)."""
    return {b.name: (b.etag, b.last_modified) for b in container.list_blobs()}


def test_the_sample_is_found_without_importing_skfolio() -> None:
    stocks, index = sample_files()
    assert stocks.name == "sp500_dataset.csv.gz" and index.name == "sp500_index.csv.gz"
    assert stocks.is_file() and index.is_file()
    assert "skfolio" not in sys.modules


def test_loading_the_sample_twice_changes_nothing(azurite: Azurite) -> None:
    container = prices_container(azurite.connection_string)
    first = cli(azurite, "--sample")
    assert first.returncode == 0, first.stderr
    before = blob_state(container)
    assert set(before) == {MANIFEST, *(closes_blob(s) for s in SYMBOLS)}
    assert "SP500\t1990-01-02\t2022-12-28\t8313" in first.stdout.splitlines()

    second = cli(azurite, "--sample")
    assert second.returncode == 0, second.stderr
    assert "0 blobs written, 22 unchanged, 0 deleted" in second.stderr
    assert blob_state(container) == before  # same ETags: nothing was rewritten

    manifest = PriceStore(container).manifest()
    assert manifest is not None
    assert manifest.benchmark == Benchmark(symbol="SP500", name="S&P 500 index")
    assert "skfolio 1.12.2" in manifest.source and manifest.currency == "USD"
    assert set(manifest.symbols) == SYMBOLS


def test_stored_closes_are_the_sample_file_exactly(azurite: Azurite) -> None:
    load_sample(azurite.connection_string)
    store = PriceStore(prices_container(azurite.connection_string))
    raw = raw_closes()
    for symbol in ("AAPL", "RRC", "SP500"):
        rows = store.closes(symbol)
        assert rows is not None and len(rows) == len(raw)
        assert [d for d, _ in rows] == [t.date() for t in raw.index]
        assert [c for _, c in rows] == raw[symbol].tolist()


GOOD = "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,11,21\n2024-01-04,12,22\n"
BAD_FILES = {
    "gap": (
        "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,,21\n2024-01-04,12,22\n",
        "AAA has 1 gap(s) inside its range 2024-01-02..2024-01-04 (empty on 2024-01-03)",
    ),
    "duplicate date": (
        "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,11,21\n2024-01-03,11,21\n",
        "line 4: duplicate date 2024-01-03 (first on line 3)",
    ),
    "non-numeric price": (
        "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,eleven,21\n",
        "AAA on 2024-01-03 (line 3): price 'eleven' is not a number",
    ),
    "zero price": (
        "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,0,21\n",
        "price '0' is not a finite positive number",
    ),
    "nan price": ("date,AAA\n2024-01-02,10\n2024-01-03,nan\n", "is not a finite positive"),
    "no date column": (
        "day,AAA,BBB\n2024-01-02,10,20\n",
        "unknown column layout: the first column must be `date`",
    ),
    "date not first": (
        "AAA,date\n10,2024-01-02\n", "unknown column layout: the first column must be `date`"
    ),
    "no symbol columns": ("date\n2024-01-02\n", "unknown column layout: no symbol columns"),
    "a column that is no symbol": (
        "date,AAA,Close Price\n2024-01-02,10,20\n", "column 'Close Price' is not a symbol"
    ),
    "a symbol twice": ("date,AAA,aaa\n2024-01-02,10,20\n", "symbol AAA appears twice"),
    "ragged row": ("date,AAA,BBB\n2024-01-02,10\n", "line 2: 2 cells, the header has 3"),
    "malformed date": ("date,AAA\n02/01/2024,10\n", "date '02/01/2024' is not YYYY-MM-DD"),
    "a symbol without prices": ("date,AAA,BBB\n2024-01-02,10,\n", "BBB has no price at all"),
    "empty file": ("", "the file is empty"),
    "header only": ("date,AAA\n", "no rows of prices"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_csv_is_refused_and_nothing_is_stored(
    azurite: Azurite, tmp_path: Path, kind: str
) -> None:
    text, said = BAD_FILES[kind]
    load_sample(azurite.connection_string)
    container = prices_container(azurite.connection_string)
    before = blob_state(container)
    path = tmp_path / "prices.csv"
    path.write_text(text)

    run = cli(azurite, "--csv", str(path))

    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: invalid_price_file: ") and said in run.stderr
    assert run.stderr.rstrip().endswith("(nothing was stored)")
    assert blob_state(container) == before  # same blobs, same ETags
    with pytest.raises(InvalidPriceFile) as refused:
        parse_csv(text, "prices.csv")
    assert refused.value.code == "invalid_price_file" and said in refused.value.message


def test_a_benchmark_that_is_no_column_is_refused_before_any_write(azurite: Azurite) -> None:
    container = prices_container(azurite.connection_string, f"prices-{uuid.uuid4().hex[:8]}")
    manifest = Manifest(
        dataset="t", source="t", benchmark=Benchmark(symbol="IDX", name="An index"), symbols={}
    )
    with pytest.raises(InvalidPriceFile, match="the benchmark IDX is not a column"):
        PriceStore(container).load(parse_csv(GOOD, "t.csv"), manifest)
    assert list(container.list_blobs()) == []


def test_leading_and_trailing_empty_cells_are_days_a_symbol_was_not_listed(
    azurite: Azurite,
) -> None:
    """Listed later (leading empties) and delisted (trailing empties) are not gaps: the symbol's
    range runs from its first price to its last. Rows may come in any order."""
    text = (
        "Date,LATE,GONE,IDX\n"
        "2024-01-04,12,,102\n"
        "2024-01-02,,20,100\n"
        "2024-01-03,11,21,101\n"
        "2024-01-05,13,,103\n"
    )
    table = parse_csv(text, "listed.csv")
    assert table.closes["LATE"] == [
        (date(2024, 1, 3), 11.0), (date(2024, 1, 4), 12.0), (date(2024, 1, 5), 13.0)
    ]
    assert table.closes["GONE"] == [(date(2024, 1, 2), 20.0), (date(2024, 1, 3), 21.0)]

    container = prices_container(azurite.connection_string, f"prices-{uuid.uuid4().hex[:8]}")
    store = PriceStore(container)
    manifest = Manifest(
        dataset="listed", source="test", benchmark=Benchmark(symbol="IDX", name="An index"),
        symbols={},
    )
    result = store.load(table, manifest)
    assert sorted(result.written) == [
        closes_blob("GONE"), closes_blob("IDX"), closes_blob("LATE"), MANIFEST
    ]
    stored = store.manifest()
    assert stored is not None and stored.symbols["LATE"].first == date(2024, 1, 3)
    assert stored.symbols["GONE"].last == date(2024, 1, 3) and stored.symbols["GONE"].closes == 2

    # A reload of another dataset replaces this one: changed blobs only, the rest deleted.
    smaller = parse_csv("date,LATE,IDX\n2024-01-03,11,101\n2024-01-04,12,102\n", "s.csv")
    again = store.load(smaller, manifest)
    assert sorted(again.written) == [closes_blob("IDX"), closes_blob("LATE"), MANIFEST]
    assert again.deleted == [closes_blob("GONE")]
    assert {b.name for b in container.list_blobs()} == {
        closes_blob("IDX"), closes_blob("LATE"), MANIFEST
    }
