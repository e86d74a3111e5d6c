"""The analyst page's Watchlists panel (issue 17 item 6), in a real headless Chromium against the
local host and Azurite: the caller's watchlists with tickers, schedule and next run, the last runs
with each ticker's verdict before → after, each run's batch a `#batch=<id>` link that opens the
comparison; no console errors (the CSP holds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import requests
from azure.data.tables import TableServiceClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.watchlists import Watchlist, WatchRun
from shared.settings import ANALYSES_TABLE
from shared.store.watchlists import WatchlistStore
from tests.ui.seed import OWNER
from tests.ui.test_browser import by_id, severe_console_entries, wait

YEARLY = "0 0 0 1 1 *"  # never due during the test: runs come from POST .../run
RUN_TIMEOUT = 120


def run_once(api: requests.Session, host: DevHost, name: str) -> dict[str, Any]:
    """POST .../run and wait for a new run to end; that run."""
    before = {r["run_id"] for r in api.get(f"{host.base_url}/api/watchlists/{name}").json()["runs"]}
    started = api.post(f"{host.base_url}/api/watchlists/{name}/run")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = api.get(f"{host.base_url}/api/watchlists/{name}").json()["runs"]
        new = [r for r in runs if r["run_id"] not in before]
        if new and new[0]["status"] != "running":
            return dict(new[0])
        time.sleep(0.5)
    raise AssertionError(f"no run of {name} ended within {RUN_TIMEOUT}s")


def panel_entry(driver: WebDriver, name: str) -> str:
    return str(driver.execute_script(
        "const e = document.querySelector("
        "`#watchlists-list li.watchlist[data-name=\"${arguments[0]}\"]`);"
        "return e ? e.innerText : '';", name))


def test_the_panel_lists_watchlists_their_last_changes_and_links_each_batch(
    page: WebDriver, host: DevHost, api: requests.Session,
) -> None:
    created = api.put(f"{host.base_url}/api/watchlists/ui-watch",
                      json={"tickers": ["AAPL", "MSFT"], "schedule": YEARLY})
    assert created.status_code == 201, created.text
    first = run_once(api, host, "ui-watch")
    second = run_once(api, host, "ui-watch")
    assert first["status"] == second["status"] == "completed", (first, second)

    page.get(f"{host.base_url}/api/ui")
    wait(page, lambda d: "ui-watch" in panel_entry(d, "ui-watch"), timeout=30)
    text = panel_entry(page, "ui-watch")
    assert "AAPL, MSFT" in text and YEARLY in text and "next run" in text
    for change in second["changes"]:
        assert change["verdict_before"] is not None  # the first run wrote the previous memo
        shown = f"{change['ticker']} {change['verdict_before']} → {change['verdict_after']}"
        assert shown in text, (shown, text)
    for change in first["changes"]:  # other tests of the session may have analysed them before
        shown = (f"{change['ticker']} new: {change['verdict_after']}"
                 if change["verdict_before"] is None else
                 f"{change['ticker']} {change['verdict_before']} → {change['verdict_after']}")
        assert shown in text, (shown, text)

    links = page.find_elements(
        By.CSS_SELECTOR, '#watchlists-list li.watchlist[data-name="ui-watch"] a.watch-batch')
    hrefs = [link.get_attribute("href") for link in links]
    assert hrefs == [f"{host.base_url}/api/ui#batch={second['batch_id']}",
                     f"{host.base_url}/api/ui#batch={first['batch_id']}"]
    links[0].click()
    wait(page, lambda d: by_id(d, "batch").is_displayed(), timeout=30)
    assert page.execute_script("return location.hash;") == f"#batch={second['batch_id']}"
    assert severe_console_entries(page) == []


def test_no_watchlists_says_so(page: WebDriver, host: DevHost, api: requests.Session) -> None:
    # Another caller's list is not this one's: with the key given, an empty list reads as empty.
    for item in api.get(f"{host.base_url}/api/watchlists").json()["items"]:
        assert api.delete(f"{host.base_url}/api/watchlists/{item['name']}").status_code == 204
    page.get(f"{host.base_url}/api/ui")
    wait(page, lambda d: by_id(d, "watchlists-status").text == "No watchlists yet.")
    assert page.find_elements(By.CSS_SELECTOR, "#watchlists-list li") == []


HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_hostile_run_text_is_inert(page: WebDriver, host: DevHost, azurite: Azurite) -> None:
    """A row whose run carries markup in its reason and its batch id (as a tampered row might):
    the text shows as text, no element or link is made from it, nothing runs."""
    now = datetime.now(UTC)
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    WatchlistStore(tables.get_table_client(ANALYSES_TABLE)).put(Watchlist(
        owner=OWNER, name="ui-hostile", tickers=["AAPL"], schedule=YEARLY,
        base_url=host.base_url, created_at=now, updated_at=now,
        runs=[WatchRun(run_id="r1", trigger="run_now", started_at=now, status="skipped",
                       reason=HOSTILE, batch_id='javascript:alert(1)"><b>x</b>')],
    ))
    page.get(f"{host.base_url}/api/ui")
    wait(page, lambda d: "ui-hostile" in panel_entry(d, "ui-hostile"), timeout=30)
    assert HOSTILE in panel_entry(page, "ui-hostile")
    entry = '#watchlists-list li.watchlist[data-name="ui-hostile"]'
    for tag in ("img", "script", "b", "a"):
        assert page.find_elements(By.CSS_SELECTOR, f"{entry} {tag}") == []
    assert page.execute_script("return window.__pwned;") is None
    assert severe_console_entries(page) == []
