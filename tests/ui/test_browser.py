"""The analyst page in a real headless Chromium, against the local host and Azurite.

The host checks function keys as Azure does. The page fixture has the key already given in its
tab; the key test starts without one and reads what the browser sent from its own network log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.evidence import NewsArticle
from tests.shared.render.test_memo_html import HOSTILE_MEMO
from tests.ui.conftest import SCREENSHOTS, open_page
from tests.ui.seed import evidence_with, seed_completed_job

STAGES = ["queued", "gathering_evidence", "writing_memo", "persisting", "final"]
JOB_TIMEOUT = 90

# Records every change of a stage's data-state and every announcement, with a timestamp.
RECORDER = """
window.__stageLog = [];
window.__announced = [];
new MutationObserver((records) => {
  for (const r of records) {
    window.__stageLog.push([r.target.dataset.stage, r.target.dataset.state, performance.now()]);
  }
}).observe(document.getElementById('stages'),
           {attributes: true, subtree: true, attributeFilter: ['data-state']});
new MutationObserver(() => {
  const text = document.getElementById('announcer').textContent;
  if (text) window.__announced.push(text);
}).observe(document.getElementById('announcer'),
           {childList: true, characterData: true, subtree: true});
"""

# Every visible element with text of its own: its colour against the first opaque background
# behind it, as WCAG computes contrast.
CONTRAST_AUDIT = """
const parse = (c) => {
  const p = c.match(/[\\d.]+/g).map(Number);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
};
const lum = ({r, g, b}) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const c = parse(getComputedStyle(el).backgroundColor);
    if (c.a >= 0.99) return c;
  }
  return {r: 255, g: 255, b: 255, a: 1};
};
const failures = [];
let checked = 0;
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length || el.closest('[hidden]')) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const fg = parse(style.color), bg = background(el);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  checked++;
  if (ratio < 4.5) failures.push([el.tagName, el.id, el.className, ratio.toFixed(2),
                                  el.textContent.trim().slice(0, 40)]);
}
return [checked, failures];
"""


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 20) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def by_id(driver: WebDriver, element_id: str) -> Any:
    return driver.find_element(By.ID, element_id)


def stage_states(driver: WebDriver) -> dict[str, str]:
    return dict(driver.execute_script(
        "return [...document.querySelectorAll('#stages li')]"
        ".map((li) => [li.dataset.stage, li.dataset.state]);"))


def result_shown(driver: WebDriver) -> bool:
    return bool(driver.execute_script(
        "const img = document.getElementById('chart-img');"
        "return !document.getElementById('result').hidden && img.complete"
        " && img.naturalWidth > 0;"))


def history_item(driver: WebDriver, job_id: str) -> str:
    """The text of that job's entry in the history list ('' while it is not listed)."""
    return str(driver.execute_script(
        "const b = document.querySelector(`#history-list button[data-job-id=\"${arguments[0]}\"]`);"
        "return b ? b.innerText : '';", job_id))


def file_exists(path: Path) -> Callable[[WebDriver], bool]:
    return lambda _driver: path.exists()


def screenshot(driver: WebDriver, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.3)  # let the stage colours finish their transition
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(size["width"], min(int(height) + 120, 2400))
        time.sleep(0.2)
        driver.save_screenshot(str(path))
        driver.set_window_size(size["width"], size["height"])
    else:
        driver.save_screenshot(str(path))
    return path


def severe_console_entries(driver: Any) -> list[str]:
    """Console errors (a CSP violation or a failed load shows here); Chrome-only log API."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def assert_no_alert(driver: WebDriver) -> None:
    try:
        WebDriverWait(driver, 1).until(expected_conditions.alert_is_present())
    except TimeoutException:
        pass
    else:
        text = driver.switch_to.alert.text
        driver.switch_to.alert.dismiss()
        raise AssertionError(f"a dialog opened: {text!r}")
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is the check


def test_submit_see_each_stage_then_the_memo_and_the_chart(
    page: WebDriver, host: DevHost, api: requests.Session, tmp_path: Path
) -> None:
    assert by_id(page, "job").get_attribute("hidden") is not None
    wait(page, lambda d: by_id(d, "history-status").text == "No analyses yet.")
    screenshot(page, "empty")
    page.execute_script(RECORDER)
    page.execute_cdp_cmd("Browser.setDownloadBehavior",
                         {"behavior": "allow", "downloadPath": str(tmp_path)})

    by_id(page, "ticker").send_keys("msft")
    by_id(page, "ticker-submit").click()
    wait(page, lambda d: stage_states(d).get("gathering_evidence") == "current")
    assert stage_states(page)["queued"] == "done"
    screenshot(page, "in_progress")
    wait(page, result_shown, JOB_TIMEOUT)

    job_id = by_id(page, "job").get_attribute("data-job-id")
    job = api.get(f"{host.base_url}/api/analyses/{job_id}", timeout=10).json()
    assert job["status"] == "completed" and job["ticker"] == "MSFT"

    # Each stage, in order: never one ahead of an earlier one, and the live ones seen live.
    log = page.execute_script("return window.__stageLog;")
    first_reached: list[str] = []
    for stage, state, _ in log:
        if state != "pending" and stage not in first_reached:
            first_reached.append(stage)
    assert first_reached == STAGES
    states: dict[str, str] = dict.fromkeys(STAGES, "pending")
    order = {"pending": 0, "current": 1, "done": 2}
    seen_current: list[str] = []
    for stage, state, _ in log:
        assert order[state] >= order[states[stage]], f"{stage} went back to {state}"
        states[stage] = state
        if state == "current" and stage not in seen_current:
            seen_current.append(stage)
        reached = [s for s in STAGES if states[s] != "pending"]
        assert reached == STAGES[: len(reached)], f"out of order: {states}"
    assert seen_current[:2] == ["queued", "gathering_evidence"]
    assert set(stage_states(page).values()) == {"done"}
    announced = page.execute_script("return window.__announced;")
    assert "MSFT: queued…" in announced and "MSFT: gathering evidence…" in announced
    assert any(a.startswith("MSFT: memo ready, " + job["verdict"].upper()) for a in announced)
    assert by_id(page, "announcer").get_attribute("aria-live") == "polite"

    # The memo, its badges and its data gaps set apart.
    assert page.find_element(By.CSS_SELECTOR, "#memo h1").text == "MSFT research memo"
    headings = [h.text for h in page.find_elements(By.CSS_SELECTOR, "#memo h2")]
    assert headings[:3] == ["Summary", "Quantitative picture", "News and narrative"]
    assert "Data gaps" not in headings  # moved into the gaps box
    assert page.find_elements(By.CSS_SELECTOR, "#memo table td")
    assert by_id(page, "badge-verdict").text == f"Verdict: {job['verdict'].upper()}"
    assert by_id(page, "badge-confidence").text == f"Confidence {job['confidence']:.2f}"
    assert by_id(page, "badge-grounding").text == "Grounding: not applicable"
    gaps = by_id(page, "gaps")
    assert gaps.is_displayed() and "news" in gaps.text.lower()
    assert by_id(page, "badge-gaps").text == "1 data gap"
    assert gaps.location["y"] < by_id(page, "memo").location["y"]

    # The chart: loaded, and it is the job's chart.svg.
    chart = by_id(page, "chart-img")
    assert chart.get_attribute("src").startswith("blob:")
    assert int(chart.get_attribute("naturalWidth")) == 720
    assert "MSFT" in chart.get_attribute("alt") and "SPY" in chart.get_attribute("alt")

    # The downloads: the memo and the evidence, through fetch (so a key header could go along).
    for link_id, name in (("download-memo", f"MSFT-{job_id}-memo.md"),
                          ("download-evidence", f"MSFT-{job_id}-evidence.json")):
        by_id(page, link_id).click()
        wait(page, file_exists(tmp_path / name), 10)
    memo = api.get(f"{host.base_url}/api/analyses/{job_id}/report", timeout=10).text
    assert (tmp_path / f"MSFT-{job_id}-memo.md").read_text() == memo
    assert (tmp_path / f"MSFT-{job_id}-evidence.json").read_bytes() == api.get(
        f"{host.base_url}/api/analyses/{job_id}/evidence", timeout=10).content

    # The history lists the new job, completed, with its verdict.
    wait(page, lambda d: "completed" in history_item(d, job_id))
    text = history_item(page, job_id)
    assert "MSFT" in text and job["verdict"].upper() in text
    assert page.find_element(By.CSS_SELECTOR, f'#history-list [data-job-id="{job_id}"]'
                             ).get_attribute("aria-current") == "true"

    page.execute_script("window.scrollTo(0, 0);")
    screenshot(page, "finished", full_page=True)
    assert severe_console_entries(page) == []


def test_a_ticker_the_server_refuses_shows_its_message_without_reloading(
    page: WebDriver, host: DevHost, api: requests.Session
) -> None:
    page.execute_script("window.__sameDocument = 42;")
    posts = ("return performance.getEntriesByType('resource').filter((e) =>"
             " e.name.endsWith('/api/analyses')).length;")

    ticker = by_id(page, "ticker")
    ticker.send_keys("bad_ticker!")  # one ticker: with a space it would be two, a batch
    ticker.send_keys(Keys.ENTER)
    error = by_id(page, "ticker-error")
    wait(page, lambda _d: error.is_displayed())
    assert "1–10 letters" in error.text and page.execute_script(posts) == 0  # the browser rule

    # The server's rule is the same: bypass the browser's copy to hear the server refuse.
    page.execute_script("document.getElementById('ticker').removeAttribute('pattern');")
    expected = api.post(f"{host.base_url}/api/analyses", json={"ticker": "BAD_TICKER!"},
                        timeout=10).json()["error"]
    assert expected["code"] == "invalid_ticker"
    ticker.send_keys(Keys.ENTER)
    wait(page, lambda _d: error.text == expected["message"])
    assert page.execute_script(posts) == 1
    assert ticker.get_attribute("aria-invalid") == "true"
    assert "ticker-error" in ticker.get_attribute("aria-describedby")
    assert page.execute_script("return window.__sameDocument;") == 42  # no reload
    assert page.current_url == f"{host.base_url}/api/ui"
    assert page.switch_to.active_element == ticker
    assert by_id(page, "job").get_attribute("hidden") is not None


def test_keyboard_only_submission(page: WebDriver, host: DevHost) -> None:
    def press(*keys: str) -> Any:
        ActionChains(page).send_keys(*keys).perform()
        return page.switch_to.active_element

    assert page.execute_script("return document.activeElement === document.body;")
    skip = press(Keys.TAB)
    assert skip.get_attribute("class") == "skip-link" and skip.is_displayed()
    assert press(Keys.ENTER).get_attribute("id") == "new-analysis"
    ticker = press(Keys.TAB)
    assert ticker.get_attribute("id") == "ticker"
    outline = page.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [s.outlineStyle, parseFloat(s.outlineWidth)];")
    assert outline[0] != "none" and outline[1] >= 2  # a visible focus ring
    press("kbd.a", Keys.ENTER)
    wait(page, lambda d: by_id(d, "job-heading").text == "Analysis of KBD.A")
    wait(page, result_shown, JOB_TIMEOUT)

    # The history entry opens with the keyboard too.
    job_id = by_id(page, "job").get_attribute("data-job-id")
    wait(page, lambda d: "completed" in history_item(d, job_id))
    page.execute_script("history.replaceState(null, '', location.pathname);")
    for _ in range(60):  # Tab forward from the ticker field to the history entry
        if press(Keys.TAB).get_attribute("data-job-id") == job_id:
            break
    else:
        raise AssertionError("the history entry is not reachable with Tab")
    press(Keys.ENTER)
    wait(page, lambda d: d.switch_to.active_element.get_attribute("id") == "job-heading")
    wait(page, result_shown, JOB_TIMEOUT)
    assert severe_console_entries(page) == []


def test_a_hostile_memo_and_news_are_inert(page: WebDriver, host: DevHost,
                                            azurite: Azurite) -> None:
    hostile = "<script>alert('news')</script><img src=x onerror=alert('img')>"
    articles = [NewsArticle(id="n1", title=hostile, url="javascript:alert('url')",
                            source="<b onmouseover=alert(1)>x</b>", excerpt=hostile)]
    job_id = seed_completed_job(
        azurite.connection_string, "EVIL", HOSTILE_MEMO,
        evidence_with('EVIL"><script>alert("svg")</script>', articles))
    page.get(f"{host.base_url}/api/ui#job={job_id}")
    wait(page, result_shown, 30)
    assert_no_alert(page)

    found = page.execute_script("""
      const area = document.getElementById('result');
      const memo = document.getElementById('memo');
      return {
        scripts: document.querySelectorAll('#memo script, #gaps script').length,
        active: area.querySelectorAll('img:not(#chart-img), iframe, svg, style, object').length,
        handlers: [...area.querySelectorAll('*')].flatMap((e) => [...e.attributes])
          .filter((a) => a.name.startsWith('on')).map((a) => a.name),
        hrefs: [...memo.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
        text: memo.textContent,
        gaps: document.getElementById('gaps').textContent,
        pageScripts: [...document.scripts].map((s) => s.src),
      };""")
    assert found["scripts"] == 0 and found["active"] == 0 and found["handlers"] == []
    assert found["hrefs"] == ["https://news.example/a?b=1&c=2", "https://news.example/1"]
    assert "[here](javascript:alert('md'))" in found["text"]  # left as text, scheme dropped
    assert "<script>alert('block')</script>" in found["text"]
    assert "<img src=x onerror=alert('img')>" in found["text"]
    assert "<style>body{display:none}</style>" in found["gaps"]
    assert found["pageScripts"] == [f"{host.base_url}/api/ui/app.js"]
    assert by_id(page, "badge-grounding").text == "Ungrounded"
    assert page.title == "Stock research memos"
    assert_no_alert(page)
    assert severe_console_entries(page) == []


def test_phone_width_to_desktop(page: WebDriver, host: DevHost, azurite: Azurite) -> None:
    memo = "# WIDE research memo\n\n## Summary\n\n" + "| a | b | c | d | e | f |\n" + \
        "| --- | --- | --- | --- | --- | --- |\n" + "| " + " | ".join(
            ["a-rather-long-cell-value-without-spaces"] * 6) + " |\n\n## Data gaps\n\nNone.\n"
    job_id = seed_completed_job(azurite.connection_string, "WIDE", memo,
                                evidence_with("WIDE", []))
    overflow = ("return [document.documentElement.scrollWidth,"
                " document.documentElement.clientWidth];")
    for width in (360, 768, 1280):
        page.set_window_size(width, 900)
        page.get(f"{host.base_url}/api/ui#job={job_id}")
        wait(page, result_shown, 30)
        scroll_width, client_width = page.execute_script(overflow)
        assert scroll_width <= client_width, f"horizontal scroll at {width}px"
        chart = by_id(page, "chart-img")
        assert chart.size["width"] <= client_width
        for element_id in ("ticker", "ticker-submit", "history-refresh"):
            element = by_id(page, element_id)
            assert element.is_displayed()
            assert element.location["x"] + element.size["width"] <= client_width
        job_box, history_box = by_id(page, "job").rect, by_id(page, "history").rect
        side_by_side = history_box["x"] > job_box["x"] + job_box["width"] - 1
        assert side_by_side == (width >= 960), width
        assert by_id(page, "badge-gaps").text == "No data gaps"


def test_rendered_text_meets_aa_contrast(page: WebDriver, host: DevHost,
                                         azurite: Azurite) -> None:
    job_id = seed_completed_job(azurite.connection_string, "CNTR", HOSTILE_MEMO,
                                evidence_with("CNTR", []))
    page.get(f"{host.base_url}/api/ui#job={job_id}")
    wait(page, result_shown, 30)
    checked, failures = page.execute_script(CONTRAST_AUDIT)
    assert checked > 30
    assert failures == []


@dataclass
class Seen:
    """One request the browser sent to the host, as its network log shows it."""

    method: str
    path_qs: str
    had_key: bool  # the host's function key in x-functions-key or ?code=
    status: int = 0  # 0: no answer logged


def sent_to(driver: Any, origin: str, key: str) -> list[Seen]:
    """The requests to `origin` since the performance log was last read, in order, from the
    DevTools network events (the headers as sent, the status as answered)."""
    seen: dict[str, Seen] = {}
    headers: dict[str, dict[str, str]] = {}
    statuses: dict[str, int] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message.get("params", {})
        request_id = params.get("requestId", "")
        if method == "Network.requestWillBeSent" and params["request"]["url"].startswith(origin):
            url = urlsplit(params["request"]["url"])
            path_qs = url.path + (f"?{url.query}" if url.query else "")
            seen[request_id] = Seen(params["request"]["method"], path_qs,
                                    key in parse_qs(url.query).get("code", []))
            headers.setdefault(request_id, {}).update(params["request"]["headers"])
        elif method == "Network.requestWillBeSentExtraInfo":
            headers.setdefault(request_id, {}).update(params["headers"])
        elif method == "Network.responseReceived":
            statuses[request_id] = int(params["response"]["status"])
    for request_id, request in seen.items():
        given = {k.lower(): v for k, v in headers.get(request_id, {}).items()}
        request.had_key = request.had_key or given.get("x-functions-key") == key
        request.status = statuses.get(request_id, 0)
    return list(seen.values())


def test_function_key_is_asked_once_and_kept_in_the_tab(browser: WebDriver,
                                                       host: DevHost) -> None:
    key = host.function_key
    sent_to(browser, host.base_url, key)  # read and dropped: only this test's requests count
    open_page(browser, host, key=None)
    ticker = by_id(browser, "ticker")
    ticker.send_keys("KEY")
    ticker.send_keys(Keys.ENTER)
    key_input = wait(browser, lambda d: by_id(d, "key-input") if by_id(
        d, "key-panel").is_displayed() else None)
    assert browser.switch_to.active_element == key_input
    assert key_input.get_attribute("type") == "password"
    key_input.send_keys(key + Keys.ENTER)
    wait(browser, lambda d: not by_id(d, "key-panel").is_displayed())
    ticker.send_keys("KEY" + Keys.ENTER)
    wait(browser, result_shown, JOB_TIMEOUT)
    by_id(browser, "history-refresh").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#history-list button"))

    stored = browser.execute_script(
        "return [sessionStorage.getItem('stockmemo.functionKey'),"
        " JSON.stringify(localStorage), document.cookie, location.href];")
    seen = sent_to(browser, host.base_url, key)
    assert stored[0] == key
    assert key not in stored[1] and key not in stored[2] and key not in stored[3]
    assert seen and all(key not in s.path_qs for s in seen)  # never in a URL
    refused = [s for s in seen if s.status == 401]
    assert [s.method for s in refused] == ["POST"]  # asked once
    after = seen[seen.index(refused[0]) + 1:]
    api_calls = [s for s in after if s.path_qs.startswith("/api/analyses")]
    assert {s.path_qs.split("?")[0].rsplit("/", 1)[-1] for s in api_calls} >= {
        "analyses", "report", "chart.svg"}
    assert all(s.had_key and s.status < 400 for s in api_calls)
    page_loads = [s for s in seen if s.path_qs.startswith("/api/ui")]
    assert page_loads and not any(s.had_key for s in page_loads)
    assert all(0 < s.status < 400 for s in page_loads)  # the anonymous page needs no key
