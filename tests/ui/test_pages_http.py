"""The page's routes over HTTP on the local host: headers, assets, the chart, the downloads.

The page and its assets are anonymous; the API routes beside them take the function key
(`api`, a session that sends it), as on Azure.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.render.memo_html import render_report_html
from tests.app_env import app_folder, key_header
from tests.ui.conftest import app_host
from tests.ui.seed import evidence_with, follow, seed_completed_job
from tests.ui.svg_chart import parse_chart

ROOT = Path(__file__).resolve().parents[2]
ROUNDING = 0.02


def csp(response: requests.Response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    pairs = (d.strip().split(None, 1) for d in header.split(";") if d.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in pairs}


@pytest.fixture(scope="module")
def finished(host: DevHost, api: requests.Session) -> dict[str, Any]:
    answer = api.post(f"{host.base_url}/api/analyses", json={"ticker": "chrt"}, timeout=10)
    assert answer.status_code == 202, answer.text
    job = follow(answer.json()["statusQueryGetUri"], key_header(host))
    assert job["status"] == "completed", job
    return job


def test_the_page_forbids_inline_and_third_party_script(host: DevHost) -> None:
    answer = requests.get(f"{host.base_url}/api/ui", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = csp(answer)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["style-src"] == "'self'"
    assert "unsafe" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    html = answer.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts == [(' src="/api/ui/app.js" defer', "")]
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another origin


def test_the_page_holds_no_secret_and_shows_the_server_rule(host: DevHost,
                                                            azurite: Azurite) -> None:
    html = requests.get(f"{host.base_url}/api/ui", timeout=10).text
    account_key = re.search(r"AccountKey=([^;]+)", azurite.connection_string)
    assert account_key is not None
    keys = (host.function_key, host.master_key, host.system_key)
    for secret in (*keys, account_key.group(1)):
        assert secret and secret not in html
    assert "code=" not in html
    assert 'pattern="[A-Z0-9.\\-]{1,10}"' in html
    assert '<meta name="stockmemo-auth" content="function-key">' in html


def test_easyauth_mode_is_announced_to_the_page(
    azurite: Azurite, tmp_path: Path
) -> None:
    # The app reads AUTH_MODE in its workers, which take their settings when the host starts:
    # a host of its own (and a hub of its own) with AUTH_MODE=easyauth.
    root = app_folder(tmp_path, "StockMemoUIEasyAuth")
    with app_host(azurite, root, AUTH_MODE="easyauth") as easyauth:
        html = requests.get(f"{easyauth.base_url}/api/ui", timeout=10).text
    assert '<meta name="stockmemo-auth" content="easyauth">' in html


@pytest.mark.parametrize(("name", "content_type"),
                         [("app.js", "text/javascript"), ("app.css", "text/css"),
                          ("favicon.svg", "image/svg+xml")])
def test_assets_are_served_with_their_type_and_an_etag(
    host: DevHost, name: str, content_type: str
) -> None:
    url = f"{host.base_url}/api/ui/{name}"
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"{content_type}; charset=utf-8"
    assert answer.content == (ROOT / "api" / "static" / name).read_bytes()
    again = requests.get(url, headers={"If-None-Match": answer.headers["ETag"]}, timeout=10)
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize("name", ["index.html", "..%2Fpages.py", "app.py", "x"])
def test_only_the_listed_assets_are_served(host: DevHost, name: str) -> None:
    answer = requests.get(f"{host.base_url}/api/ui/{name}", timeout=10)
    assert answer.status_code == 404
    assert "import" not in answer.text and "<html" not in answer.text
    if answer.content:  # the host may answer a path it cannot route before our code sees it
        assert answer.json()["error"]["code"] == "not_found"


def test_chart_draws_the_evidence(
    host: DevHost, api: requests.Session, finished: dict[str, Any]
) -> None:
    base = f"{host.base_url}/api/analyses/{finished['id']}"
    answer = api.get(f"{base}/chart.svg", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    evidence = api.get(f"{base}/evidence", timeout=10).json()
    quant = evidence["quant"]
    ticker, bench = quant["ticker_series"], quant["benchmark_series"]
    bench_by_day = dict(zip(bench["dates"], bench["closes"], strict=True))
    common = [(d, c, bench_by_day[d]) for d, c in zip(ticker["dates"], ticker["closes"],
                                                      strict=True) if d in bench_by_day]
    assert len(common) > 200

    _, drawn = parse_chart(answer.text)
    assert set(drawn) == {"CHRT", "SPY"}
    for symbol, column in (("CHRT", 1), ("SPY", 2)):
        values = drawn[symbol].values
        assert len(values) == len(common)  # one point per common trading day
        assert values[0] == pytest.approx(100.0, abs=ROUNDING)
        last_over_first = common[-1][column] / common[0][column]
        assert values[-1] == pytest.approx(100 * last_over_first, abs=ROUNDING)
    # With a full year in common, the last point is the memo's own 1y return.
    metrics = {m["id"]: m["value"] for m in quant["metrics"]}
    if len(common) == 253:
        assert drawn["CHRT"].values[-1] == pytest.approx(100 * (1 + metrics["return_1y"]),
                                                         abs=ROUNDING)
        assert drawn["SPY"].values[-1] == pytest.approx(100 * (1 + metrics["spy_return_1y"]),
                                                        abs=ROUNDING)


def test_evidence_download_is_the_stored_blob(
    host: DevHost, api: requests.Session, azurite: Azurite, finished: dict[str, Any]
) -> None:
    from azure.storage.blob import BlobServiceClient

    answer = api.get(f"{host.base_url}/api/analyses/{finished['id']}/evidence", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="CHRT-{finished["id"]}-evidence.json"')
    blob = BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        "reports", f"CHRT/{finished['id']}/evidence.json")
    assert answer.content == blob.download_blob().readall()


def test_memo_html_is_the_rendered_markdown(
    host: DevHost, api: requests.Session, finished: dict[str, Any]
) -> None:
    base = f"{host.base_url}/api/analyses/{finished['id']}"
    answer = api.get(f"{base}/report", params={"format": "html"}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    markdown = api.get(f"{base}/report", timeout=10).text
    assert answer.text == render_report_html(markdown)
    assert "<h1>CHRT research memo</h1>" in answer.text


@pytest.mark.parametrize("suffix", ["chart.svg", "evidence", "report?format=html"])
def test_unknown_and_other_owners_jobs_are_the_apis_404(
    host: DevHost, api: requests.Session, azurite: Azurite, suffix: str
) -> None:
    theirs = seed_completed_job(azurite.connection_string, "OTHER", "# OTHER\n",
                                evidence_with("OTHER", []), owner="someone-else")
    for job_id in (theirs, "0123456789abcdef0123456789abcdef", "not-an-id"):
        answer = api.get(f"{host.base_url}/api/analyses/{job_id}/{suffix}", timeout=10)
        job = api.get(f"{host.base_url}/api/analyses/{job_id}", timeout=10)
        assert answer.status_code == job.status_code == 404
        assert answer.json() == job.json() == {
            "error": {"code": "not_found", "message": "no analysis with that id"}}


def test_before_completion_the_files_are_409_with_the_status(
    host: DevHost, api: requests.Session
) -> None:
    answer = api.post(f"{host.base_url}/api/analyses", json={"ticker": "EARLY"}, timeout=10)
    base = answer.json()["statusQueryGetUri"]
    try:
        for suffix in ("chart.svg", "evidence", "report?format=html"):
            early = api.get(f"{base}/{suffix}", timeout=10)
            assert early.status_code == 409
            error = early.json()["error"]
            assert error["code"] == "not_completed" and error["status"] in ("queued", "running")
    finally:
        follow(base, key_header(host))


def test_funcignore_keeps_the_static_files() -> None:
    patterns = [line.strip().rstrip("/") for line in (ROOT / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (ROOT / "api" / "static").iterdir():
        relative = path.relative_to(ROOT).as_posix()
        parts = relative.split("/")
        for pattern in patterns:
            hit = fnmatch.fnmatch(relative, pattern) or any(
                fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) or fnmatch.fnmatch(part, pattern)
                for i, part in enumerate(parts))
            assert not hit, f"{relative} is excluded by .funcignore pattern {pattern!r}"
