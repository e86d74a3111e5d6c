"""Route templates: parameters, optional and catch-all segments, literal precedence."""

from __future__ import annotations

from devhost.routes import RouteTable


def table() -> RouteTable[str]:
    return RouteTable(
        "api",
        [
            ("items/{id}", None, "item"),
            ("items/special", None, "special"),
            ("orders/{id:guid}/lines/{line?}", frozenset({"GET"}), "lines"),
            ("files/{*path}", None, "files"),
            ("reports/{name}.{ext}", None, "report"),
            ("", None, "root"),
        ],
    )


def test_literal_segments_win_over_parameters() -> None:
    assert table().resolve("GET", "/api/items/special") == ("special", {})
    assert table().resolve("GET", "/api/items/42") == ("item", {"id": "42"})
    assert table().resolve("GET", "/API/Items/Special/") == ("special", {})


def test_optional_parameters_and_constraints() -> None:
    assert table().resolve("GET", "/api/orders/o1/lines") == ("lines", {"id": "o1"})
    assert table().resolve("GET", "/api/orders/o1/lines/3") == ("lines", {"id": "o1", "line": "3"})
    assert table().resolve("POST", "/api/orders/o1/lines") is None


def test_catch_all_mixed_segments_and_prefix() -> None:
    assert table().resolve("GET", "/api/files/a/b/c.txt") == ("files", {"path": "a/b/c.txt"})
    assert table().resolve("GET", "/api/reports/q1.pdf") == ("report", {"name": "q1", "ext": "pdf"})
    assert table().resolve("GET", "/api") == ("root", {})
    assert table().resolve("GET", "/items/42") is None
    assert table().resolve("GET", "/apiitems/42") is None
