"""The skfolio sample, raw (for independent computations) and loaded into a test's Azurite."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.settings import PRICES_CONTAINER
from shared.store.prices import LoadResult, PriceStore, sample_dataset, sample_files


def prices_container(connection: str, name: str = PRICES_CONTAINER) -> ContainerClient:
    """A container client built straight from the connection string (not the app's clients)."""
    container = BlobServiceClient.from_connection_string(connection).get_container_client(name)
    if not container.exists():
        container.create_container()
    return container


def load_sample(connection: str) -> LoadResult:
    """The sample in the default `prices` container; idempotent, so every test may call it."""
    table, manifest = sample_dataset()
    return PriceStore(prices_container(connection)).load(table, manifest)


@lru_cache(maxsize=1)
def raw_closes() -> pd.DataFrame:
    """Both sample files as they are in the wheel, read by pandas: one column per symbol."""
    stocks, index = sample_files()
    frame = pd.read_csv(stocks, parse_dates=["Date"], index_col="Date")
    bench = pd.read_csv(index, parse_dates=["Date"], index_col="Date")
    return frame.join(bench, how="outer").sort_index()
