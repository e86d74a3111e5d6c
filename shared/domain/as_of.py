"""`as_of`, the date of a point-in-time analysis: how it is written and when it is refused.

Refused (`invalid_as_of`, 400, nothing written): anything but a `YYYY-MM-DD` string of a real
date; a date after today (UTC); a date before the first day the market data provider can have
a close for the ticker (`MarketDataProvider.first_date`): pre-data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from shared.errors import InvalidAsOf

AS_OF_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
AS_OF_RULE = "an ISO date, YYYY-MM-DD"


def parse_as_of(value: object) -> date | None:
    """None for None; the date of a `YYYY-MM-DD` string; ValueError with the rule otherwise."""
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str) or not AS_OF_RE.fullmatch(value):
        raise ValueError(f"as_of must be {AS_OF_RULE}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"as_of must be {AS_OF_RULE}; {value} is no such day") from exc


def check_as_of(as_of: date | None, today: date, first_dates: Mapping[str, date | None]) -> None:
    """Raise InvalidAsOf for a future date, or one before a ticker's first day of data
    (`first_dates`: ticker -> the provider's first day, None when it cannot say)."""
    if as_of is None:
        return
    if as_of > today:
        raise InvalidAsOf(
            f"as_of {as_of.isoformat()} is in the future (today is {today.isoformat()} UTC)",
            field="as_of", value=as_of.isoformat(),
        )
    for ticker, first in first_dates.items():
        if first is not None and as_of < first:
            raise InvalidAsOf(
                f"as_of {as_of.isoformat()} is before the market data for {ticker} begins "
                f"({first.isoformat()})",
                field="as_of", value=as_of.isoformat(),
            )


def shown(value: object) -> str:
    """The offending value as an error shows it (short)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "..."
