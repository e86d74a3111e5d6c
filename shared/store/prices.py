"""The point-in-time price store: daily closes per symbol in the private `prices` container.

Layout (one dataset at a time):
- `manifest.json`: the dataset's name, where its prices come from, its currency, its benchmark
  (`{"symbol", "name"}` or null) and, per symbol, its first and last date, its number of closes
  and the SHA-256 of its blob. Readers trust the manifest: a symbol it does not list is unknown.
- `closes/{SYMBOL}.csv`: `date,close` rows, oldest first, one per trading day of that symbol
  (closes as Python's shortest round-trip repr of the number read, so a reload is byte-identical).

Loading (`load`) validates the whole table before the first write, so a refused file stores
nothing; then it writes only the blobs whose bytes changed (each blob carries its SHA-256 in its
metadata, read back in one listing), the manifest last, and deletes the closes of symbols the new
dataset does not hold. Loading the same data twice writes nothing.

What a CSV may hold (`parse_csv`): a header whose first column is `date` (any case) and whose
other columns are symbols (1-10 of letters, digits, '.', '-', optionally after a leading '^';
upper-cased; each once), then one row per date (`YYYY-MM-DD`, each once, any order). A cell is a
finite positive price or empty. Empty cells before a symbol's first price or after its last are
the days it was not listed (listed later, delisted): its range is first to last price. An empty
cell inside that range is a gap and refuses the file, as does a symbol with no price at all.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings
from pydantic import BaseModel

from shared.errors import ConfigurationError, InvalidPriceFile
from shared.store.clients import prices_container, storage_errors

MANIFEST = "manifest.json"
CLOSES_PREFIX = "closes/"
SHA_KEY = "sha256"
SYMBOL_RE = re.compile(r"^\^?[A-Z0-9.\-]{1,10}$")
MAX_ERRORS_SHOWN = 5

SAMPLE_DISTRIBUTION = "skfolio"
SAMPLE_VERSION = "1.12.2"
SAMPLE_STOCKS = "skfolio/datasets/data/sp500_dataset.csv.gz"
SAMPLE_INDEX = "skfolio/datasets/data/sp500_index.csv.gz"
SAMPLE_BENCHMARK = "SP500"
SAMPLE_BENCHMARK_NAME = "S&P 500 index"


class Benchmark(BaseModel):
    """The series a dataset measures every ticker against, and how memos name it."""

    symbol: str
    name: str


class SymbolEntry(BaseModel):
    first: date
    last: date
    closes: int
    sha256: str


class Manifest(BaseModel):
    dataset: str
    source: str
    currency: str | None = None
    benchmark: Benchmark | None = None
    symbols: dict[str, SymbolEntry]


@dataclass
class PriceTable:
    """Validated daily closes per symbol, each list oldest first with no gap inside its range."""

    closes: dict[str, list[tuple[date, float]]] = field(default_factory=dict)

    def merge(self, other: PriceTable, origin: str) -> None:
        for symbol, rows in other.closes.items():
            if symbol in self.closes:
                raise InvalidPriceFile(
                    f"{origin}: symbol {symbol} is already loaded from another file"
                )
            self.closes[symbol] = rows


# -- parsing: everything is checked before anything is written ------------------------------


def parse_csv(text: str, origin: str) -> PriceTable:
    """The table in `text` (a CSV, see the module docstring), or InvalidPriceFile saying where."""
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # trailing blank lines
    if not rows:
        raise InvalidPriceFile(
            f"{origin}: the file is empty; expected a header `date,SYMBOL,...`"
        )
    header = [cell.strip() for cell in rows[0]]
    symbols = _symbols(header, origin)
    problems: list[str] = []
    seen: dict[date, int] = {}
    cells: list[tuple[date, list[str]]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(f"line {number}: {len(row)} cells, the header has {len(header)}")
            continue
        day = _date(row[0].strip())
        if day is None:
            problems.append(f"line {number}: date {row[0].strip()!r} is not YYYY-MM-DD")
            continue
        if day in seen:
            problems.append(f"line {number}: duplicate date {day} (first on line {seen[day]})")
            continue
        seen[day] = number
        cells.append((day, row[1:]))
    if not cells and not problems:
        raise InvalidPriceFile(f"{origin}: the header has no rows of prices under it")
    cells.sort(key=lambda item: item[0])
    table = PriceTable()
    for index, symbol in enumerate(symbols):
        values: list[tuple[date, float | None]] = []
        for day, row in cells:
            value, problem = _price(row[index].strip())
            if problem:
                problems.append(f"{symbol} on {day} (line {seen[day]}): {problem}")
            values.append((day, value))
        closes, problem = _range(symbol, values)
        if problem:
            problems.append(problem)
        table.closes[symbol] = closes
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = len(problems) - MAX_ERRORS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        raise InvalidPriceFile(f"{origin}: refused, nothing stored: {shown}{tail}")
    return table


def _symbols(header: list[str], origin: str) -> list[str]:
    if not header or header[0].lower() != "date":
        raise InvalidPriceFile(
            f"{origin}: unknown column layout: the first column must be `date`, "
            f"then one column per symbol (found {', '.join(map(repr, header[:5])) or 'nothing'})"
        )
    if len(header) < 2:
        raise InvalidPriceFile(f"{origin}: unknown column layout: no symbol columns after `date`")
    symbols: list[str] = []
    for name in header[1:]:
        symbol = name.upper()
        if not SYMBOL_RE.fullmatch(symbol):
            raise InvalidPriceFile(
                f"{origin}: unknown column layout: column {name!r} is not a symbol "
                "(1-10 letters, digits, '.' or '-', optionally after '^')"
            )
        if symbol in symbols:
            raise InvalidPriceFile(
                f"{origin}: unknown column layout: symbol {symbol} appears twice"
            )
        symbols.append(symbol)
    return symbols


def _date(text: str) -> date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _price(text: str) -> tuple[float | None, str | None]:
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, f"price {text!r} is not a number"
    if not math.isfinite(value) or value <= 0:
        return None, f"price {text!r} is not a finite positive number"
    return value, None


def _range(
    symbol: str, values: list[tuple[date, float | None]]
) -> tuple[list[tuple[date, float]], str | None]:
    """The closes from the symbol's first price to its last; a gap inside is a problem."""
    present = [i for i, (_, value) in enumerate(values) if value is not None]
    if not present:
        return [], f"{symbol} has no price at all"
    inside = values[present[0] : present[-1] + 1]
    gaps = [day for day, value in inside if value is None]
    if gaps:
        first = ", ".join(str(day) for day in gaps[:3])
        return [], (
            f"{symbol} has {len(gaps)} gap(s) inside its range {inside[0][0]}..{inside[-1][0]} "
            f"(empty on {first}{', ...' if len(gaps) > 3 else ''}); only days before its first "
            "price or after its last may be empty"
        )
    return [(day, value) for day, value in inside if value is not None], None


def read_csv_file(path: Path) -> PriceTable:
    """Parse a CSV file (gzip when it ends in `.gz`)."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InvalidPriceFile(f"{path}: cannot be read as UTF-8 CSV ({exc})") from exc
    return parse_csv(text, str(path))


# -- the bundled sample ----------------------------------------------------------------------


def sample_files() -> tuple[Path, Path]:
    """The sample's two files (stocks, index) inside the installed skfolio wheel, found through
    its distribution metadata: the package itself is never imported."""
    try:
        dist = distribution(SAMPLE_DISTRIBUTION)
    except PackageNotFoundError as exc:
        raise ConfigurationError(
            f"the sample needs {SAMPLE_DISTRIBUTION}=={SAMPLE_VERSION} installed without its "
            f"dependencies: pip install --no-deps {SAMPLE_DISTRIBUTION}=={SAMPLE_VERSION}"
        ) from exc
    listed = {str(f): f for f in dist.files or []}
    paths = []
    for name in (SAMPLE_STOCKS, SAMPLE_INDEX):
        if name not in listed:
            raise ConfigurationError(
                f"{SAMPLE_DISTRIBUTION} {dist.version} has no {name}; "
                f"install {SAMPLE_DISTRIBUTION}=={SAMPLE_VERSION}"
            )
        paths.append(Path(str(dist.locate_file(listed[name]))))
    return paths[0], paths[1]


def sample_dataset() -> tuple[PriceTable, Manifest]:
    """The sample's table and its manifest (without the per-symbol entries, filled by `load`)."""
    stocks, index = sample_files()
    table = read_csv_file(stocks)
    table.merge(read_csv_file(index), str(index))
    version = distribution(SAMPLE_DISTRIBUTION).version
    manifest = Manifest(
        dataset="skfolio S&P 500 sample",
        source=(
            f"{SAMPLE_DISTRIBUTION} {version} (PyPI), {SAMPLE_STOCKS} and {SAMPLE_INDEX}: "
            "adjusted daily closes of 20 US stocks and the S&P 500 index"
        ),
        currency="USD",
        benchmark=Benchmark(symbol=SAMPLE_BENCHMARK, name=SAMPLE_BENCHMARK_NAME),
        symbols={},
    )
    return table, manifest


# -- the store -------------------------------------------------------------------------------


def closes_blob(symbol: str) -> str:
    return f"{CLOSES_PREFIX}{symbol}.csv"


def encode_closes(rows: Iterable[tuple[date, float]]) -> bytes:
    return ("date,close\n" + "".join(f"{d.isoformat()},{c!r}\n" for d, c in rows)).encode()


def decode_closes(data: bytes) -> list[tuple[date, float]]:
    lines = data.decode("utf-8").splitlines()[1:]
    rows = []
    for line in lines:
        day, _, close = line.partition(",")
        rows.append((date.fromisoformat(day), float(close)))
    return rows


@dataclass(frozen=True)
class LoadResult:
    manifest: Manifest
    written: list[str]
    unchanged: list[str]
    deleted: list[str]


class PriceStore:
    """The price store in one container (`prices_container()` unless given)."""

    def __init__(self, container: ContainerClient | None = None) -> None:
        self.container = container if container is not None else prices_container()

    def load(self, table: PriceTable, manifest: Manifest) -> LoadResult:
        """Store `table` as the one dataset, described by `manifest` (its `symbols` are filled
        here). Only changed blobs are written; the manifest last."""
        if manifest.benchmark is not None and manifest.benchmark.symbol not in table.closes:
            raise InvalidPriceFile(
                f"the benchmark {manifest.benchmark.symbol} is not a column of the price file"
            )
        if not table.closes:
            raise InvalidPriceFile("the price file holds no symbols")
        blobs: dict[str, bytes] = {}
        symbols: dict[str, SymbolEntry] = {}
        for symbol in sorted(table.closes):
            rows = table.closes[symbol]
            data = encode_closes(rows)
            blobs[closes_blob(symbol)] = data
            symbols[symbol] = SymbolEntry(
                first=rows[0][0], last=rows[-1][0], closes=len(rows), sha256=_sha(data)
            )
        described = manifest.model_copy(update={"symbols": symbols})
        manifest_bytes = json.dumps(
            described.model_dump(mode="json"), sort_keys=True, indent=1
        ).encode()
        with storage_errors("list price store"):
            stored = {
                b.name: (b.metadata or {}).get(SHA_KEY)
                for b in self.container.list_blobs(include=["metadata"])
            }
        written: list[str] = []
        unchanged: list[str] = []
        for name, data in [*blobs.items(), (MANIFEST, manifest_bytes)]:
            digest = _sha(data)
            if stored.get(name) == digest:
                unchanged.append(name)
                continue
            content_type = "application/json" if name == MANIFEST else "text/csv"
            with storage_errors("write price store"):
                self.container.upload_blob(
                    name, data, overwrite=True, metadata={SHA_KEY: digest},
                    content_settings=ContentSettings(content_type=f"{content_type}; charset=utf-8"),
                )
            written.append(name)
        deleted = sorted(n for n in stored if n.startswith(CLOSES_PREFIX) and n not in blobs)
        for name in deleted:
            with storage_errors("delete from price store"):
                self.container.delete_blob(name)
        return LoadResult(described, written, unchanged, deleted)

    def manifest(self) -> Manifest | None:
        """The stored manifest; None when nothing was ever loaded."""
        data = self._read(MANIFEST)
        return Manifest.model_validate_json(data) if data is not None else None

    def closes(self, symbol: str) -> list[tuple[date, float]] | None:
        """The symbol's closes, oldest first; None when the store has none."""
        data = self._read(closes_blob(symbol))
        return decode_closes(data) if data is not None else None

    def _read(self, name: str) -> bytes | None:
        with storage_errors("read price store"):
            try:
                return self.container.download_blob(name).readall()
            except ResourceNotFoundError:
                return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
