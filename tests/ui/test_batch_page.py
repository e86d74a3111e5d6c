"""The analyst page with several tickers, in a real headless Chromium against the local host and
Azurite: one batch, each ticker's stage read from its own job and its status from the batch, then
the comparison memo and its chart; refusals shown with their code, field and value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.batches import BatchItem
from shared.domain.models import JobStatus, Verdict
from tests.app_env import app_folder
from tests.shared.render.test_memo_html import HOSTILE_MEMO
from tests.ui.conftest import app_host, open_page
from tests.ui.seed import evidence_with, seed_completed_batch, seed_completed_job
from tests.ui.test_browser import (
    CONTRAST_AUDIT,
    assert_no_alert,
    by_id,
    file_exists,
    screenshot,
    severe_console_entries,
    wait,
)

BATCH_TIMEOUT = 120
ORDER = ["queued", "gathering_evidence", "writing_memo", "persisting", "completed", "failed",
         "cancelled"]

# Records every change of a row's stage or status, and every announcement.
ROW_RECORDER = """
window.__rowLog = [];
window.__announced = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.tagName !== 'TR') continue;
    window.__rowLog.push([r.target.dataset.ticker, r.attributeName,
                          r.target.getAttribute(r.attributeName)]);
  }
}).observe(document.getElementById('batch-rows'),
           {attributes: true, subtree: true, attributeFilter: ['data-stage', 'data-status']});
new MutationObserver(() => {
  const text = document.getElementById('announcer').textContent;
  if (text) window.__announced.push(text);
}).observe(document.getElementById('announcer'),
           {childList: true, characterData: true, subtree: true});
"""

# How many requests the page sent to exactly this path (no query).
REQUESTS = ("return performance.getEntriesByType('resource').map((e) => new URL(e.name))"
            ".filter((u) => u.pathname + u.search === arguments[0]).length;")


def rows(driver: WebDriver) -> dict[str, dict[str, str]]:
    """Each ticker's row as shown: its stage, status and outcome."""
    return {row["ticker"]: row for row in driver.execute_script(
        "return [...document.querySelectorAll('#batch-rows tr')].map((tr) => ({"
        " ticker: tr.dataset.ticker, id: tr.dataset.jobId, stage: tr.dataset.stage,"
        " status: tr.dataset.status, outcome: tr.querySelector('.batch-outcome').textContent,"
        " stageText: tr.cells[1].textContent, link: tr.querySelector('a').getAttribute('href')"
        "}));")}


def comparison_shown(driver: WebDriver) -> bool:
    return bool(driver.execute_script(
        "const img = document.getElementById('batch-chart-img');"
        "return !document.getElementById('batch-result').hidden && img.complete"
        " && img.naturalWidth > 0;"))


def test_several_tickers_each_stage_then_the_comparison_and_its_chart(
    page: WebDriver, host: DevHost, api: requests.Session, tmp_path: Path
) -> None:
    page.execute_script(ROW_RECORDER)
    page.execute_cdp_cmd("Browser.setDownloadBehavior",
                         {"behavior": "allow", "downloadPath": str(tmp_path)})
    by_id(page, "ticker").send_keys("aapl, msft  zzzzq,AAPL")
    by_id(page, "ticker-submit").click()

    wait(page, lambda d: by_id(d, "batch").is_displayed() and len(rows(d)) == 3)
    assert not by_id(page, "job").is_displayed()
    assert by_id(page, "batch-heading").text == "Comparison of AAPL, MSFT, ZZZZQ"
    batch_id = by_id(page, "batch").get_attribute("data-batch-id")
    assert page.current_url.endswith(f"#batch={batch_id}")
    # Each child's stage comes from its own job while it runs (the market takes 3.5 s).
    wait(page, lambda d: any(r["stage"] == "gathering_evidence" for r in rows(d).values()), 30)
    live = [r for r in rows(page).values() if r["stage"] == "gathering_evidence"]
    assert live[0]["stageText"] == "gathering evidence" and live[0]["status"] == "running"
    screenshot(page, "batch_in_progress")
    wait(page, comparison_shown, BATCH_TIMEOUT)

    batch = api.get(f"{host.base_url}/api/batches/{batch_id}", timeout=10).json()
    assert batch["status"] == "completed" and batch["tickers"] == ["AAPL", "MSFT", "ZZZZQ"]
    shown = rows(page)
    for item in batch["items"]:
        row = shown[item["ticker"]]
        assert row["id"] == item["id"] and row["status"] == item["status"]
        assert row["stage"] == item["status"]  # a finished child's stage is its end
        assert row["link"] == f"#job={item['id']}"
        if item["status"] == "completed":
            assert row["outcome"] == (f"{item['verdict'].upper()}, confidence "
                                      f"{item['confidence']:.2f}")
    failed = shown["ZZZZQ"]
    assert failed["status"] == "failed"
    child = api.get(f"{host.base_url}/api/analyses/{failed['id']}", timeout=10).json()
    assert failed["outcome"] == (f"Failed while gathering evidence (unknown_ticker): "
                                 f"{child['error']['message']}")

    # Stages only ever moved forward, and the running children were read from their own jobs.
    log = page.execute_script("return window.__rowLog;")
    reached: dict[str, list[str]] = {}
    for ticker, attribute, value in log:
        if attribute == "data-stage" and value not in reached.setdefault(ticker, []):
            reached[ticker].append(value)
    for ticker, stages in reached.items():
        assert stages == sorted(stages, key=ORDER.index), f"{ticker}: {stages}"
    assert reached["AAPL"][-1] == "completed" and reached["ZZZZQ"][-1] == "failed"
    assert "gathering_evidence" in reached["AAPL"] + reached["MSFT"]
    child_reads = sum(page.execute_script(REQUESTS, f"/api/analyses/{row['id']}")
                      for row in shown.values())
    assert child_reads > 0
    assert page.execute_script(REQUESTS, "/api/analyses") == 0  # one batch, no single analyses
    assert page.execute_script(REQUESTS, "/api/batches") == 1
    announced = page.execute_script("return window.__announced;")
    assert "Comparison ready: 2 completed, 1 failed." in announced

    # The comparison memo, rendered from the server's sanitised HTML, and its chart.
    report = api.get(f"{host.base_url}/api/batches/{batch_id}/report", timeout=10).text
    title = report.splitlines()[0].removeprefix("# ")
    assert page.find_element(By.CSS_SELECTOR, "#comparison h1").text == title
    headings = [h.text for h in page.find_elements(By.CSS_SELECTOR, "#comparison h2")]
    for heading in ("Portfolio Strategist", "Ranking", "Correlation", "Equal-weighted portfolio",
                    "Data gaps", "Provenance"):
        assert heading in headings
    ranking = page.find_element(By.CSS_SELECTOR, "#comparison table").text
    assert all(ticker in ranking for ticker in ("AAPL", "MSFT", "ZZZZQ"))
    assert "SIMULATED DATA" in by_id(page, "comparison").text
    chart = by_id(page, "batch-chart-img")
    assert chart.get_attribute("src").startswith("blob:")
    assert int(chart.get_attribute("naturalWidth")) == 720
    alt = chart.get_attribute("alt")
    assert "AAPL" in alt and "MSFT" in alt and "ZZZZQ" not in alt

    # The Markdown download, through fetch with the key header.
    by_id(page, "download-comparison").click()
    name = f"comparison-{batch_id}.md"
    wait(page, file_exists(tmp_path / name), 10)
    assert (tmp_path / name).read_text() == report

    page.execute_script("window.scrollTo(0, 0);")
    screenshot(page, "batch_finished", full_page=True)
    assert severe_console_entries(page) == []
    checked, failures = page.execute_script(CONTRAST_AUDIT)
    assert checked > 30 and failures == []

    # Each ticker is an ordinary job: its row opens it, and back returns to the comparison.
    page.find_element(By.LINK_TEXT, "AAPL").click()
    wait(page, lambda d: by_id(d, "job").is_displayed()
         and by_id(d, "job-heading").text == "Analysis of AAPL")
    assert not by_id(page, "batch").is_displayed()
    page.back()
    wait(page, comparison_shown, 30)
    assert by_id(page, "batch").get_attribute("data-batch-id") == batch_id


def test_refusals_show_code_field_and_value(
    page: WebDriver, host: DevHost, api: requests.Session
) -> None:
    ticker = by_id(page, "ticker")
    error = by_id(page, "ticker-error")
    limit = int(ticker.get_attribute("data-max-tickers"))
    assert limit == 25 and f"2 to {limit} tickers" in by_id(page, "ticker-hint").text

    # The browser's copy of the rules: a bad ticker among good ones, too many tickers.
    ticker.send_keys("AAPL bad!" + Keys.ENTER)
    wait(page, lambda _d: error.is_displayed())
    assert error.text.startswith("“BAD!” is not a ticker")
    ticker.clear()
    ticker.send_keys(" ".join(f"T{i}" for i in range(limit + 1)) + Keys.ENTER)
    wait(page, lambda _d: error.text.startswith("A comparison takes"))
    assert error.text == f"A comparison takes 2 to {limit} tickers; this has {limit + 1}."
    assert page.execute_script(REQUESTS, "/api/batches") == 0

    # The server's rule, with the browser's copy removed: its code, field and value, plainly.
    page.execute_script("document.getElementById('ticker').removeAttribute('pattern');")
    expected = api.post(f"{host.base_url}/api/batches", json={"tickers": ["AAPL", "BAD!"]},
                        timeout=10).json()["error"]
    assert (expected["code"], expected["field"], expected["value"]) == (
        "invalid_ticker", "tickers[1]", "BAD!")
    ticker.clear()
    ticker.send_keys("aapl bad!" + Keys.ENTER)
    wait(page, lambda _d: error.text.startswith(expected["message"]))
    assert error.text == (f"{expected['message']} (code invalid_ticker, field tickers[1], "
                          "value “BAD!”)")
    assert page.execute_script(REQUESTS, "/api/batches") == 1
    assert ticker.get_attribute("aria-invalid") == "true"
    assert page.switch_to.active_element == ticker
    assert not by_id(page, "batch").is_displayed() and not by_id(page, "job").is_displayed()
    assert [e for e in severe_console_entries(page) if "/api/batches" not in e] == []


@pytest.fixture
def quota_host(azurite: Azurite, tmp_path: Path) -> Iterator[DevHost]:
    """The app with a quota of 3 analyses an hour: any batch of 4 is refused whole."""
    root = app_folder(tmp_path, "StockMemoUIQuota")
    with app_host(azurite, root, ANALYSES_PER_HOUR="3") as running:
        yield running


def test_a_batch_over_the_quota_is_shown_as_429(browser: WebDriver,
                                                 quota_host: DevHost) -> None:
    open_page(browser, quota_host, quota_host.function_key)
    ticker = by_id(browser, "ticker")
    ticker.send_keys("QA QB QC QD" + Keys.ENTER)
    error = by_id(browser, "ticker-error")
    wait(browser, lambda _d: error.is_displayed())
    assert "(code quota_exceeded)" in error.text
    assert "Try again in about " in error.text and "minute" in error.text
    assert not by_id(browser, "batch").is_displayed()


def test_a_hostile_comparison_is_inert(page: WebDriver, host: DevHost, azurite: Azurite) -> None:
    hostile = "<img src=x onerror=alert('row')>"
    good = seed_completed_job(azurite.connection_string, "GOOD", "# GOOD research memo\n",
                              evidence_with("GOOD", []))
    items = [
        BatchItem(ticker="GOOD", id=good, status=JobStatus.COMPLETED, verdict=Verdict.BUY,
                  confidence=0.42),
        BatchItem(ticker=f"EVIL{hostile}", id="0" * 32, status=JobStatus.FAILED,
                  error_code=hostile),
    ]
    comparison = HOSTILE_MEMO.replace("# EVIL research memo", "# Comparison memo: GOOD, EVIL")
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="360">'
           '<script>alert("svg")</script><rect width="720" height="360" fill="#fff"/></svg>')
    batch_id = seed_completed_batch(azurite.connection_string, items, comparison, svg)
    page.get(f"{host.base_url}/api/ui#batch={batch_id}")
    wait(page, comparison_shown, 30)
    assert_no_alert(page)

    found = page.execute_script("""
      const area = document.getElementById('batch');
      const memo = document.getElementById('comparison');
      return {
        active: area.querySelectorAll(
          'script, img:not(#batch-chart-img), iframe, svg, style, object').length,
        handlers: [...area.querySelectorAll('*')].flatMap((e) => [...e.attributes])
          .filter((a) => a.name.startsWith('on')).map((a) => a.name),
        hrefs: [...memo.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
        text: memo.textContent,
        heading: document.getElementById('batch-heading').textContent,
      };""")
    assert found["active"] == 0 and found["handlers"] == []
    assert found["hrefs"] == ["https://news.example/a?b=1&c=2", "https://news.example/1"]
    assert "<script>alert('block')</script>" in found["text"]
    assert found["heading"] == f"Comparison of GOOD, EVIL{hostile}"  # as text
    evil = rows(page)[f"EVIL{hostile}"]
    assert evil["outcome"] == f"Failed ({hostile})"
    # The memo's data gaps stay in the comparison, set apart by the page's style.
    gaps = page.find_element(By.CSS_SELECTOR, "#comparison section.memo-gaps")
    assert "<style>body{display:none}</style>" in gaps.text
    assert gaps.value_of_css_property("border-left-width") == "6px"
    assert_no_alert(page)
    assert page.title == "Stock research memos"
