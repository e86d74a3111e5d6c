"""What a watchlist run's webhook says: the JSON body, as the exact bytes that are signed.

`{watchlist, run_id, batch_id, changes: [{ticker, job_id, ...}], report_urls, text}`, where
`text` is one plain line a chat tool can show as is. The body is canonical (sorted keys, no
spaces, UTF-8), so the same run always gives the same bytes, and so the same signature on every
retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.models import Verdict

HEX_ID = r"^[0-9a-f]{32}$"
TEXT_ITEMS = 20  # tickers named in `text`; the rest are counted


class TickerChange(BaseModel):
    """One ticker of the run: its new memo's job and what moved since the previous memo.

    `verdict_before` is None for a ticker's first memo; `verdict_after` is None when this run
    wrote no memo for it (the analysis failed or was cancelled)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    ticker: str = Field(min_length=1, max_length=10, pattern=r"^[A-Z0-9.\-]+$")
    job_id: str = Field(pattern=HEX_ID, description="The job id (32 hex characters).")
    verdict_before: Verdict | None = None
    verdict_after: Verdict | None = None
    confidence_before: float | None = Field(default=None, ge=0, le=1)
    confidence_after: float | None = Field(default=None, ge=0, le=1)
    excess_return: float | None = Field(
        default=None,
        description="The realised return over the benchmark since the previous memo, as a "
        "fraction (0.031 is 3.1%); None when there is no previous memo or no prices.",
    )

    @property
    def verdict_changed(self) -> bool:
        return (
            self.verdict_before is not None
            and self.verdict_after is not None
            and self.verdict_before != self.verdict_after
        )


class NotificationBody(BaseModel):
    """The webhook's JSON body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")
    run_id: str = Field(min_length=1, max_length=100)
    batch_id: str = Field(pattern=HEX_ID)
    changes: list[TickerChange]
    report_urls: dict[str, str] = Field(
        description="What each link is for (a ticker, or `comparison`) -> its URL."
    )
    text: str


def notification_body(
    watchlist: str,
    run_id: str,
    batch_id: str,
    changes: Sequence[TickerChange],
    report_urls: Mapping[str, str],
) -> bytes:
    """The canonical JSON bytes of the run's notification, `text` included; these exact bytes
    are what is signed and sent."""
    body = NotificationBody(
        watchlist=watchlist,
        run_id=run_id,
        batch_id=batch_id,
        changes=list(changes),
        report_urls=dict(report_urls),
        text=summary_line(watchlist, changes),
    )
    return canonical_json(body)


def canonical_json(body: NotificationBody) -> bytes:
    data = body.model_dump(mode="json")
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def summary_line(watchlist: str, changes: Sequence[TickerChange]) -> str:
    """One plain line: "Watchlist tech: 2 changed — AAPL hold→buy, MSFT buy→hold".

    Verdict changes come first, then first memos ("NVDA buy (first memo)"), then tickers that
    got no memo ("TSLA no memo"); tickers whose verdict held are only counted."""
    changed = [c for c in changes if c.verdict_changed]
    first = [c for c in changes if c.verdict_before is None and c.verdict_after is not None]
    missing = [c for c in changes if c.verdict_after is None]
    items = (
        [f"{c.ticker} {c.verdict_before}→{c.verdict_after}" for c in changed]
        + [f"{c.ticker} {c.verdict_after} (first memo)" for c in first]
        + [f"{c.ticker} no memo" for c in missing]
    )
    head = f"Watchlist {watchlist}: "
    head += f"{len(changed)} changed" if changed else "no verdict changed"
    if not items:
        return f"{head} ({_tickers(len(changes))})"
    shown = ", ".join(items[:TEXT_ITEMS])
    more = f", and {len(items) - TEXT_ITEMS} more" if len(items) > TEXT_ITEMS else ""
    return f"{head} — {shown}{more}"


def _tickers(count: int) -> str:
    return f"{count} ticker" if count == 1 else f"{count} tickers"
