"""shared.render.memo_html: Markdown to HTML with raw HTML off, then the allow-list sanitiser."""

from __future__ import annotations

import inspect
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shared.render.memo_html import ALLOWED_TAGS, render_report_html, sanitise_html

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "cases"

HOSTILE_MEMO = """# EVIL research memo <script>alert('title')</script>

## Summary

- Verdict: **BUY**
- Thesis <img src=x onerror=alert('img')> and <svg onload=alert('svg')></svg>
- <a href="javascript:alert('raw')">raw anchor</a> <iframe src="https://evil.example"></iframe>

Click [here](javascript:alert('md')) or [there](JAVASCRIPT:alert('upper')) or
<javascript:alert('autolink')> or [data](data:text/html;base64,PHNjcmlwdD4=) or
[vb](vbscript:msgbox) or [rel](/api/analyses) or [ftp](ftp://files.example/x) or
[fine](https://news.example/a?b=1&c=2).

<script>alert('block')</script>

## News and narrative

- [Title <script>alert('news')</script>](https://news.example/1), <b onmouseover=alert(1)>x</b>
- ![tracker](https://evil.example/pixel.png)

## Data gaps

- news / news_failed: the provider failed <style>body{display:none}</style>
"""


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would see the fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def test_signature_is_what_the_api_wires() -> None:
    assert str(inspect.signature(render_report_html)) == "(markdown: 'str') -> 'str'"


def test_hostile_memo_is_inert() -> None:
    html = render_report_html(HOSTILE_MEMO)
    tags = elements(html)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS
    assert not {"script", "img", "iframe", "svg", "style", "b"} & {tag for tag, _ in tags}
    for tag, attrs in tags:
        assert all(not name.startswith("on") for name in attrs), (tag, attrs)
        assert set(attrs) <= {"href", "rel", "class", "start"}, (tag, attrs)
    hrefs = [str(attrs["href"]) for tag, attrs in tags if tag == "a" and "href" in attrs]
    assert hrefs == ["https://news.example/a?b=1&c=2", "https://news.example/1"]
    # What was markup is now text a reader can see, not an element.
    assert "&lt;script&gt;alert('block')&lt;/script&gt;" in html
    assert "onerror=alert('img')" in html  # as text inside a paragraph
    assert not re.search(r"<[^>]+\son\w+=", html)
    assert all(not h.lower().startswith("javascript") for h in hrefs)


def test_links_get_rel_and_only_http_schemes_survive() -> None:
    html = render_report_html("[a](https://x.example) [b](http://y.example) [c](mailto:z@x)")
    anchors = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert [a.get("href") for a in anchors] == ["https://x.example", "http://y.example", None]
    assert all(a["rel"] == "noopener noreferrer nofollow" for a in anchors)


def test_sanitiser_alone_stops_raw_html() -> None:
    raw = (
        '<p onclick="steal()">hi<img src=x onerror=alert(1)><script>alert(2)</script>'
        '<a href="javascript:alert(3)">j</a><a href="/relative">r</a>'
        '<a href=" JaVaScRiPt:alert(4)">k</a><a href="https://ok.example">ok</a>'
        '<section class="memo-gaps evil">s</section><div style="x">d</div>'
        '<form action="https://evil.example"><input></form><iframe></iframe></p>'
    )
    clean = sanitise_html(raw)
    tags = elements(clean)
    assert {tag for tag, _ in tags} <= {"p", "a", "section"}
    assert [a.get("href") for tag, a in tags if tag == "a"] == [None, None, None,
                                                                 "https://ok.example"]
    assert ("section", {"class": "memo-gaps"}) in tags
    assert "alert(2)" not in clean and "steal" not in clean


def test_sections_wrap_each_h2_and_mark_the_data_gaps() -> None:
    html = render_report_html("# T\n\nintro\n\n## Summary\n\ntext\n\n## Data gaps\n\n- a\n- b\n"
                              "\n## Provenance\n\n- p\n")
    sections = [attrs.get("class") for tag, attrs in elements(html) if tag == "section"]
    assert sections == ["memo-section", "memo-section memo-gaps", "memo-section"]
    assert html.index("<h1>T</h1>") < html.index("<section")
    assert re.search(r'<section class="memo-section memo-gaps">\s*<h2>Data gaps</h2>\s*<ul>',
                     html)
    assert html.count("<section") == html.count("</section>")


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_golden_memos_render_with_their_tables_and_gaps(case: str) -> None:
    memo = (GOLDEN / case / "expected" / "memo.md").read_text()
    html = render_report_html(memo)
    tags = [tag for tag, _ in elements(html)]
    assert "table" in tags and "th" in tags and "td" in tags
    assert html.count('class="memo-section memo-gaps"') == 1
    for heading in re.findall(r"^## (.+)$", memo, flags=re.M):
        assert f"<h2>{heading}</h2>" in html
    assert "not investment advice" in html
