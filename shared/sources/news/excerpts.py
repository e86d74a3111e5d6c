"""Turning a provider's article fields into NewsArticle values: excerpts, dates, sources."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

ELLIPSIS = "…"
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SPACE = re.compile(r"\s+")


def plain_text(markdown: str) -> str:
    """Markdown as one line of prose: images dropped, links reduced to their text."""
    text = _LINK.sub(r"\1", _IMAGE.sub("", markdown))
    return _SPACE.sub(" ", text).strip()


def trim_excerpt(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters at a word boundary, marked with '…'."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > 0 else cut[: max_chars - len(ELLIPSIS)]
    return head.rstrip(" ,;:.-") + ELLIPSIS


def parse_published(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (naive means UTC); anything else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def domain_of(url: str | None) -> str | None:
    """'www.reuters.com/...' -> 'reuters.com'."""
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None
