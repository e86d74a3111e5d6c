"""Shared fixtures: one Azurite for the whole test session, started here and stopped here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as instance:
        yield instance


@pytest.fixture
def storage_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point AzureWebJobsStorage at the session's Azurite; returns the connection string."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    return azurite.connection_string
