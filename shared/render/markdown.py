"""Markdown pieces every rendered document shares: text from outside (evidence, a model) made
safe to place in a line, a table cell, a list item or a paragraph, and links made safe to follow.

The memo (`shared.render.memo`) and the comparison memo (`shared.render.comparison`) both render
through these, and `shared.render.memo_html` turns either into HTML with raw HTML off."""

from __future__ import annotations

import re

_INLINE_SPECIAL = re.compile(r"([\\`\[\]<>|])")
_WHITESPACE = re.compile(r"\s+")


def inline(text: str | None) -> str:
    """One line of literal text: whitespace collapsed, Markdown and table syntax escaped."""
    if not text:
        return ""
    return _INLINE_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", text).strip())


def code(identifier: str) -> str:
    """An id as a code span; inside a table a pipe must still be escaped, even in code."""
    clean = _WHITESPACE.sub(" ", identifier).strip().replace("`", "'").replace("|", "\\|")
    return f"`{clean}`"


def line(text: str) -> str:
    """Writer text kept as Markdown but on one line, so it stays one list item."""
    return _WHITESPACE.sub(" ", text).strip().replace("|", "\\|")


def paragraph(text: str) -> str:
    """Writer text kept as Markdown, without lines that would open a heading or a table row."""
    lines = []
    for raw in text.strip().splitlines():
        kept = raw.rstrip()
        if kept.lstrip().startswith(("#", "|")):
            kept = "\\" + kept.lstrip()
        lines.append(kept)
    return "\n".join(lines)


def safe_url(url: str | None) -> str | None:
    """http(s) URLs only, with the characters that would end a Markdown link percent-encoded."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or _WHITESPACE.search(url):
        return None
    for char, encoded in (("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ("|", "%7C")):
        url = url.replace(char, encoded)
    return url
