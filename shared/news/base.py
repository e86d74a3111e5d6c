from __future__ import annotations

from typing import Protocol

from shared.evidence import NewsResult


class NewsProvider(Protocol):
    name: str

    def search(self, ticker: str) -> NewsResult:
        """Recent articles on the company; transient failures raise NewsUnavailable."""
        ...
