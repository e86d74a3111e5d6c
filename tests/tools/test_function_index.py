"""The function index matches the committed snapshot (CI also checks it in a runtime-only venv)."""

import json

from tools.function_index import SNAPSHOT, current_index


def test_function_index_matches_snapshot() -> None:
    assert current_index() == json.loads(SNAPSHOT.read_text())


def test_every_http_route_is_function_level() -> None:
    for function in current_index():
        for binding in function["bindings"]:
            if binding["type"] == "httpTrigger":
                assert binding["authLevel"] == "FUNCTION", function["name"]
