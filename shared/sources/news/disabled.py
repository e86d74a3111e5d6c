from __future__ import annotations

from datetime import date

from shared.domain.evidence import DataGap, NewsResult


class NoNews:
    """NEWS_PROVIDER=none: an empty news set, flagged so the memo says no news was searched."""

    name = "none"

    def search(self, ticker: str, as_of: date | None = None) -> NewsResult:
        return NewsResult(
            provider=self.name,
            status="disabled",
            gaps=[
                DataGap(
                    source="news",
                    code="news_disabled",
                    message="NEWS_PROVIDER=none: no news was searched for this memo",
                )
            ],
        )
