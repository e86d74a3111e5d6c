"""The function index, as Azure's Python runtime reports it to the host, matches the committed
snapshot (CI also checks it in a virtualenv built from requirements.txt alone).

The runtime keeps its state in module globals, so the index is taken in a process of its own.
"""

import json

from tests.runtime_index import runtime_index
from tools.function_index import SNAPSHOT


def test_function_index_matches_snapshot() -> None:
    assert runtime_index() == json.loads(SNAPSHOT.read_text())


# The analyst page and its static files hold no data and no secret; a key in the page's URL is
# what the page exists to avoid (it asks for the key and sends it as a header).
PUBLIC_PAGE_FUNCTIONS = {"ui_page", "ui_asset"}


def test_every_http_route_is_function_level() -> None:
    for function in runtime_index():
        for binding in function["bindings"]:
            if binding["type"] == "httpTrigger":
                expected = "ANONYMOUS" if function["name"] in PUBLIC_PAGE_FUNCTIONS else "FUNCTION"
                assert binding["authLevel"] == expected, function["name"]


def test_activities_take_an_annotation_the_runtime_loads() -> None:
    """Every activity is in the index: the runtime refused none (it refuses dict[str, Any])."""
    activities = {
        f["name"]
        for f in runtime_index()
        for b in f["bindings"]
        if b["type"] == "activityTrigger"
    }
    assert activities == {
        "set_job_stage", "fail_job", "fetch_market_data", "research_news",
        "run_quant_analyst", "write_memo", "persist_report", "update_batch", "compare_batch",
        "admit_watch_run", "record_watch_run", "notify_watch_run",
    }
