"""The memo as HTML for the page: Markdown rendered with raw HTML off, then an allow-list sanitiser.

Two walls, each enough on its own for the cases we know:

1. markdown-it-py in CommonMark mode with `html=False`: raw HTML in the memo (a `<script>`, an
   `<img onerror=...>`) is emitted as escaped text, and its link validator refuses
   `javascript:`, `vbscript:` and `file:` targets.
2. nh3 with an explicit allow-list: only the tags Markdown produces, `href` on links only,
   `http`/`https` only (relative URLs dropped), no images, no scripts, no `on*` attributes.

Each `##` section is wrapped in `<section class="memo-section">`; the data-gaps section also gets
`memo-gaps`, so the page can set it apart. Those wrappers are added as tokens, before the
sanitiser, which lets exactly those two class names through.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

GAPS_HEADING = "Data gaps"
SECTION_CLASS = "memo-section"
GAPS_CLASS = "memo-gaps"

ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "section", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "ol": {"start"}}
ALLOWED_CLASSES: dict[str, set[str]] = {"section": {SECTION_CLASS, GAPS_CLASS}}
URL_SCHEMES = frozenset({"http", "https"})
LINK_REL = "noopener noreferrer nofollow"


# Both libraries are imported on first use: about 30 ms that a cold start of every other route
# does not need to pay.


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        allowed_classes=ALLOWED_CLASSES,
        strip_comments=True,
    )


def sanitise_html(html: str) -> str:
    """The allow-list sanitiser on its own (the second wall); safe on any HTML."""
    return _cleaner().clean(html)


def render_report_html(markdown: str) -> str:
    """The memo Markdown as a sanitised HTML fragment (no <html>/<body>), ready to insert."""
    md = _markdown()
    tokens = _with_sections(md.parse(markdown))
    return sanitise_html(md.renderer.render(tokens, md.options, {}))


def _with_sections(tokens: list[Token]) -> list[Token]:
    """Wrap each `##` heading and what follows it, up to the next `##`, in a <section>."""
    from markdown_it.token import Token

    out: list[Token] = []
    open_section = False
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            if open_section:
                out.append(Token("section_close", "section", -1, block=True))
            title = tokens[index + 1].content.strip() if index + 1 < len(tokens) else ""
            classes = SECTION_CLASS + (f" {GAPS_CLASS}" if title == GAPS_HEADING else "")
            out.append(
                Token("section_open", "section", 1, attrs={"class": classes}, block=True)
            )
            open_section = True
        out.append(token)
    if open_section:
        out.append(Token("section_close", "section", -1, block=True))
    return out
