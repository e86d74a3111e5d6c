"""The function index matches the committed snapshot (CI also checks it in a runtime-only venv)."""

import json

from tools.function_index import SNAPSHOT, current_index


def test_function_index_matches_snapshot() -> None:
    assert current_index() == json.loads(SNAPSHOT.read_text())


# The analyst page and its static files hold no data and no secret; a key in the page's URL is
# what the page exists to avoid (it asks for the key and sends it as a header).
PUBLIC_PAGE_FUNCTIONS = {"ui_page", "ui_asset"}


def test_every_http_route_is_function_level() -> None:
    for function in current_index():
        for binding in function["bindings"]:
            if binding["type"] == "httpTrigger":
                expected = "ANONYMOUS" if function["name"] in PUBLIC_PAGE_FUNCTIONS else "FUNCTION"
                assert binding["authLevel"] == expected, function["name"]
