"""Watchlists on a local host and Azurite (issue 17): scheduled runs every few seconds (the
minimum lowered by WATCHLIST_MIN_INTERVAL_SECONDS), each generation's history small, signed
deliveries to a loopback receiver, a failing receiver retried and recorded, refused webhook
URLs, and DELETE stopping the orchestration and its running batch with no delivery after it.

The app is tests/e2e/apps/watch: the real app (write_memo behind a gate the test may arm) with
a resolver the test decides, so no name is ever looked up and no socket opens to anything but
127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.agents.llm.client import reset_llm_clients
from shared.agents.llm.prompts import PORTFOLIO_SYSTEM_PROMPT
from shared.domain.watchlists import instance_id
from shared.notify.delivery import DELIVERY_HEADER
from shared.notify.signing import SIGNATURE_HEADER, verify
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.artifacts import evidence_blob, memo_blob
from shared.store.rows import job_row_key
from tests.app_env import app_folder, app_settings, keyed
from tests.control import CONTROL_SETTING, Board
from tests.e2e.step_gates import StepGates
from tests.e2e.test_batch_control import runtime_status, wait_for
from tests.e2e.test_since_last_memo import DAYS_BACK, independent_excess, shown_percent
from tests.e2e.test_trust_callers import new_owner
from tests.standins.openai_server import OpenAIStandIn
from tests.trust.agents import agents, is_strategist

WATCH_APP = "tests.e2e.apps.watch.function_app:app"
OWNER = "anonymous"  # AUTH_MODE=none
YEARLY = "0 0 0 1 1 *"  # never due during a test: runs come from POST .../run
RESOLVE = {
    "private.example": ["10.1.2.3"],
    "linklocal.example": ["169.254.1.1"],
    "meta.example": ["169.254.169.254"],
    "wire.example": ["168.63.129.16"],
    "cgnat.example": ["100.64.0.7"],
    "mixed.example": ["93.184.216.34", "192.168.0.9"],
    "public.example": ["93.184.216.34"],
}


class Receiver:
    """A plain-http webhook receiver on 127.0.0.1: records every delivery; `/fail` answers 500."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body,
                     "at": time.time()}
                )
                self.send_response(500 if self.path.startswith("/fail") else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [d for d in self.deliveries if d["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture(scope="module")
def watch(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[DevHost, StepGates]]:
    root = app_folder(tmp_path_factory.mktemp("watchlists"), "StockMemoWatchlists")
    board = Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(
            patch, azurite.connection_string,
            WATCHLIST_MIN_INTERVAL_SECONDS="2",
            WEBHOOK_ALLOW_LOOPBACK_HTTP="true",
            WEBHOOK_ATTEMPTS="3",
            WEBHOOK_BACKOFF_SECONDS="0.2",
            WEBHOOK_TIMEOUT_SECONDS="5",
            WATCH_TEST_RESOLVE=json.dumps(RESOLVE),
            WATCH_TEST_RESOLVE_FILE=str(root / "resolve.json"),
        ):
            with DevHost(WATCH_APP, root=root, port=0) as host:
                yield host, StepGates(board)


def put(host: DevHost, name: str, body: Any) -> requests.Response:
    return keyed(host).put(f"{host.base_url}/api/watchlists/{name}", json=body, timeout=30)


def get(host: DevHost, name: str) -> requests.Response:
    return keyed(host).get(f"{host.base_url}/api/watchlists/{name}", timeout=30)


def ended_runs(host: DevHost, name: str) -> list[dict[str, Any]]:
    answer = get(host, name)
    assert answer.status_code == 200, answer.text
    return [r for r in answer.json()["runs"] if r["status"] != "running"]


def history(host: DevHost, instance: str) -> dict[str, Any]:
    answer = requests.get(
        f"{host.webhook_base}/instances/{instance}",
        params={"code": host.system_key, "showHistory": "true"}, timeout=10,
    )
    assert answer.status_code in (200, 202), answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_refused_watchlists_write_nothing(watch: tuple[DevHost, StepGates]) -> None:
    host, _ = watch
    good = {"tickers": ["MSFT"], "schedule": YEARLY}
    refusals: list[tuple[str, dict[str, Any], str]] = [
        ("Bad_Name", good, "invalid_watchlist"),
        ("x" * 41, good, "invalid_watchlist"),
        ("no-tickers", {**good, "tickers": []}, "invalid_watchlist"),
        ("bad-ticker", {**good, "tickers": ["MS FT"]}, "invalid_ticker"),
        ("five-fields", {**good, "schedule": "0 9 * * *"}, "invalid_schedule"),
        ("not-cron", {**good, "schedule": "every day"}, "invalid_schedule"),
        ("too-often", {**good, "schedule": "* * * * * *"}, "invalid_schedule"),
        ("extra", {**good, "color": "red"}, "invalid_body"),
    ]
    urls = [
        "https://10.0.0.1/hook",
        "https://private.example/hook",
        "https://linklocal.example/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://meta.example/hook",
        "https://wire.example/hook",
        "https://cgnat.example/hook",
        "https://mixed.example/hook",
        "https://127.0.0.1/hook",  # loopback only over plain http, and only with the setting
        "http://public.example/hook",  # not https
        "https://user:pw@public.example/hook",
        "https://nowhere.example/hook",  # does not resolve
    ]
    refusals += [(f"url-{i}", {**good, "webhook_url": url}, "invalid_webhook_url")
                 for i, url in enumerate(urls)]
    for name, body, code in refusals:
        answer = put(host, name, body)
        assert answer.status_code == 400, (name, answer.text)
        assert answer.json()["error"]["code"] == code, (name, answer.text)
        if name.islower() and len(name) <= 40:
            assert get(host, name).status_code == 404, name
    listed = keyed(host).get(f"{host.base_url}/api/watchlists", timeout=30).json()["items"]
    assert not {w["name"] for w in listed} & {name for name, _, _ in refusals}

    accepted = put(host, "public-hook", {**good, "webhook_url": "https://public.example/hook"})
    assert accepted.status_code == 201, accepted.text
    assert keyed(host).delete(f"{host.base_url}/api/watchlists/public-hook",
                              timeout=30).status_code == 204


def test_scheduled_runs_are_signed_bounded_and_stop_on_delete(
    watch: tuple[DevHost, StepGates], receiver: Receiver
) -> None:
    host, _ = watch
    name = "every-few-seconds"
    body = {"tickers": ["WAA", "WAB"], "schedule": "*/4 * * * * *",
            "webhook_url": receiver.url("/ok")}
    created = put(host, name, body)
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert secret and "webhook_secret" not in get(host, name).json()
    replaced = put(host, name, body)
    assert replaced.status_code == 200 and "webhook_secret" not in replaced.json()

    instance = instance_id(OWNER, name)
    sizes: dict[int, int] = {}  # generation -> the largest history seen in it

    def two_runs() -> bool:
        status = history(host, instance)
        if status.get("input"):
            generation = json.loads(status["input"])["generation"]
            seen = len(status.get("historyEvents") or [])
            sizes[generation] = max(sizes.get(generation, 0), seen)
        return len([r for r in ended_runs(host, name) if r["status"] == "completed"]) >= 2

    wait_for(two_runs, timeout=120)
    runs = [r for r in ended_runs(host, name) if r["status"] == "completed"][:2]
    assert {r["batch_id"] for r in runs} and len({r["batch_id"] for r in runs}) == 2
    # Each generation starts from a fresh history: what one run adds never accumulates.
    assert len(sizes) >= 2 and 0 < max(sizes.values()) <= 60, sizes
    generation = json.loads(history(host, instance)["input"])["generation"]
    assert generation >= 2

    wait_for(lambda: all(
        (r.get("notification") or {}).get("delivered") for r in ended_runs(host, name)[:2]
    ), timeout=30)
    for run in runs:
        batch = keyed(host).get(f"{host.base_url}/api/batches/{run['batch_id']}", timeout=30)
        assert batch.json()["status"] == "completed"
        [delivery] = [d for d in receiver.to("/ok")
                      if json.loads(d["body"])["batch_id"] == run["batch_id"]]
        assert verify(secret, delivery["body"], delivery["headers"][SIGNATURE_HEADER])
        assert delivery["headers"][DELIVERY_HEADER] == run["run_id"]
        sent = json.loads(delivery["body"])
        assert sent["watchlist"] == name and sent["run_id"] == run["run_id"]
        assert [c["ticker"] for c in sent["changes"]] == ["WAA", "WAB"]
        assert sent["report_urls"]["comparison"].endswith(f"/api/batches/{run['batch_id']}/report")

    deleted = keyed(host).delete(f"{host.base_url}/api/watchlists/{name}", timeout=30)
    assert deleted.status_code == 204
    answered = time.time()
    wait_for(lambda: runtime_status(host, instance) == "Terminated", timeout=30)
    assert get(host, name).status_code == 404
    batches_before = keyed(host).get(f"{host.base_url}/api/batches?limit=100", timeout=30).json()
    time.sleep(9)  # two schedule intervals
    batches_after = keyed(host).get(f"{host.base_url}/api/batches?limit=100", timeout=30).json()
    assert [b["id"] for b in batches_after["items"]] == [b["id"] for b in batches_before["items"]]
    assert runtime_status(host, instance) == "Terminated"
    late = [d for d in receiver.to("/ok") if d["at"] > answered
            and json.loads(d["body"])["watchlist"] == name]
    assert late == []


def test_a_failing_receiver_is_retried_then_recorded_while_the_run_completes(
    watch: tuple[DevHost, StepGates], receiver: Receiver
) -> None:
    host, _ = watch
    name = "failing-hook"
    path = "/fail/" + name
    created = put(host, name, {"tickers": ["WFA"], "schedule": YEARLY,
                               "webhook_url": receiver.url(path)})
    assert created.status_code == 201, created.text
    ran = keyed(host).post(f"{host.base_url}/api/watchlists/{name}/run", timeout=30)
    assert ran.status_code == 202, ran.text

    wait_for(lambda: any(r.get("notification") for r in ended_runs(host, name)), timeout=120)
    [run] = ended_runs(host, name)
    assert run["status"] == "completed"
    note = run["notification"]
    assert note["delivered"] is False
    assert [a["status"] for a in note["attempts"]] == [500, 500, 500]
    assert {a["delivery_id"] for a in note["attempts"]} == {run["run_id"]}
    assert len(receiver.to(path)) == 3
    assert len({d["headers"][DELIVERY_HEADER] for d in receiver.to(path)}) == 1
    assert keyed(host).delete(f"{host.base_url}/api/watchlists/{name}",
                              timeout=30).status_code == 204


def test_delete_terminates_the_orchestration_and_cancels_its_running_batch(
    watch: tuple[DevHost, StepGates], receiver: Receiver
) -> None:
    host, gates = watch
    name = "held-run"
    path = "/ok/" + name
    gates.arm("memo", "WHB")
    created = put(host, name, {"tickers": ["WHA", "WHB"], "schedule": YEARLY,
                               "webhook_url": receiver.url(path)})
    assert created.status_code == 201, created.text
    assert keyed(host).post(f"{host.base_url}/api/watchlists/{name}/run",
                            timeout=30).status_code == 202
    wait_for(lambda: gates.entered("memo", "WHB"), timeout=60)
    [running] = get(host, name).json()["runs"]
    assert running["status"] == "running" and running["batch_id"]
    batch_id = running["batch_id"]

    deleted = keyed(host).delete(f"{host.base_url}/api/watchlists/{name}", timeout=30)
    assert deleted.status_code == 204
    instance = instance_id(OWNER, name)
    assert runtime_status(host, instance) == "Terminated"
    batch = keyed(host).get(f"{host.base_url}/api/batches/{batch_id}", timeout=30).json()
    assert batch["status"] == "cancelled"
    gates.open("memo", "WHB")
    time.sleep(3)
    assert runtime_status(host, batch_id) == "Terminated"
    assert receiver.to(path) == []
    assert keyed(host).get(f"{host.base_url}/api/batches/{batch_id}",
                           timeout=30).json()["status"] == "cancelled"



@pytest.fixture(scope="module")
def strict(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    """Callers of their own (easyauth), two analyses an hour, and slow webhook retries."""
    root = app_folder(tmp_path_factory.mktemp("watch_strict"), "StockMemoWatchStrict")
    board = Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(
            patch, azurite.connection_string,
            AUTH_MODE="easyauth",
            ANALYSES_PER_HOUR="2",
            WEBHOOK_ALLOW_LOOPBACK_HTTP="true",
            WEBHOOK_ATTEMPTS="5",
            WEBHOOK_BACKOFF_SECONDS="2",
            WEBHOOK_TIMEOUT_SECONDS="5",
        ):
            with DevHost(WATCH_APP, root=root, port=0) as host:
                yield host


def as_caller(host: DevHost, owner: dict[str, str]) -> requests.Session:
    session = keyed(host)
    session.headers.update(owner)
    return session


def test_a_run_over_the_quota_is_skipped_not_failed(strict: DevHost) -> None:
    owner = new_owner()
    api = as_caller(strict, owner)
    url = f"{strict.base_url}/api/watchlists/three"
    created = api.put(url, json={"tickers": ["WQA", "WQB", "WQC"], "schedule": YEARLY},
                      timeout=30)
    assert created.status_code == 201, created.text
    assert api.post(f"{url}/run", timeout=30).status_code == 202

    def ended() -> list[dict[str, Any]]:
        return [r for r in api.get(url, timeout=30).json()["runs"] if r["status"] != "running"]

    wait_for(lambda: bool(ended()), timeout=60)
    [run] = ended()
    assert run["status"] == "skipped" and run.get("batch_id") is None
    assert "2 analyses an hour" in run["reason"]
    assert api.get(f"{strict.base_url}/api/batches", timeout=30).json()["items"] == []
    # The orchestration goes on to its next wait.
    oid = json.loads(base64.b64decode(owner["X-MS-CLIENT-PRINCIPAL"]))["claims"][0]["val"]
    instance = instance_id(oid, "three")
    wait_for(lambda: runtime_status(strict, instance) == "Running", timeout=30)
    # Another owner's watchlist of that name is not this one.
    other = as_caller(strict, new_owner())
    assert other.get(url, timeout=30).status_code == 404
    assert api.delete(url, timeout=30).status_code == 204


def test_no_delivery_retry_starts_after_delete_answers(
    strict: DevHost, receiver: Receiver
) -> None:
    api = as_caller(strict, new_owner())
    url = f"{strict.base_url}/api/watchlists/retrying"
    path = "/fail/retrying"
    created = api.put(url, json={"tickers": ["WRA"], "schedule": YEARLY,
                                 "webhook_url": receiver.url(path)}, timeout=30)
    assert created.status_code == 201, created.text
    assert api.post(f"{url}/run", timeout=30).status_code == 202
    # The first attempt failed (500); the next waits WEBHOOK_BACKOFF_SECONDS.
    wait_for(lambda: len(receiver.to(path)) >= 1, timeout=120)
    assert api.delete(url, timeout=30).status_code == 204
    answered = time.time()
    time.sleep(2 + 4 + 8 + 2)  # every remaining backoff of five attempts, and then some
    assert [d for d in receiver.to(path) if d["at"] > answered] == []
    assert len(receiver.to(path)) < 5


def test_the_second_run_states_what_changed_since_the_first(
    watch: tuple[DevHost, StepGates], receiver: Receiver, azurite: Azurite
) -> None:
    """Two runs of one watchlist: the second's memo says "Since the last memo" against the
    first's (made a month old and SELL here, as tests/e2e/test_since_last_memo.py does), and the
    run's changes and its webhook carry the verdict change and the realised excess return,
    matching an independent numpy computation from the stored evidence."""
    host, _ = watch
    api = keyed(host)
    name, ticker, path = "since-last", "WCH", "/ok/since-last"
    url = f"{host.base_url}/api/watchlists/{name}"
    created = put(host, name, {"tickers": [ticker], "schedule": YEARLY,
                               "webhook_url": receiver.url(path)})
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert api.post(f"{url}/run", timeout=30).status_code == 202
    wait_for(lambda: any(r.get("notification") for r in ended_runs(host, name)), timeout=120)
    [first_run] = ended_runs(host, name)
    assert first_run["status"] == "completed"
    [first_change] = first_run["changes"]
    assert first_change["verdict_before"] is None  # a first memo has nothing to compare with
    first = api.get(f"{host.base_url}/api/analyses/{first_change['job_id']}", timeout=30).json()

    reports = BlobServiceClient.from_connection_string(
        azurite.connection_string).get_container_client(REPORTS_CONTAINER)
    evidence = evidence_blob(ticker, first["id"])
    document = json.loads(reports.download_blob(evidence).readall())
    series = document["quant"]["ticker_series"]
    series["dates"] = series["dates"][:-DAYS_BACK]
    series["closes"] = series["closes"][:-DAYS_BACK]
    then = series["dates"][-1]
    reports.upload_blob(evidence, json.dumps(document).encode(), overwrite=True)
    TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
        ANALYSES_TABLE).update_entity(
        {"PartitionKey": OWNER, "RowKey": job_row_key(first["id"]), "Verdict": "sell",
         "Confidence": 0.3},
        mode=UpdateMode.MERGE,
    )

    assert api.post(f"{url}/run", timeout=30).status_code == 202
    wait_for(lambda: len([r for r in ended_runs(host, name) if r.get("notification")]) == 2,
             timeout=120)
    second_run = ended_runs(host, name)[0]
    assert second_run["status"] == "completed"
    [change] = second_run["changes"]
    second = api.get(f"{host.base_url}/api/analyses/{change['job_id']}", timeout=30).json()
    current = json.loads(reports.download_blob(evidence_blob(ticker, second["id"])).readall())
    expected = independent_excess(current, then)
    assert current["changes"]["previous_job_id"] == first["id"]
    assert current["changes"]["realised_excess_return"] == pytest.approx(expected, abs=1e-12)
    assert change["verdict_before"] == "sell" and change["confidence_before"] == 0.3
    assert change["verdict_after"] == second["verdict"]
    assert change["excess_return"] == pytest.approx(expected, abs=1e-12)

    memo = reports.download_blob(memo_blob(ticker, second["id"])).readall().decode()
    section = memo[memo.index("## Since the last memo\n"):memo.index("## Quantitative picture")]
    after = str(second["verdict"]).upper()
    verdict_line = f"- Verdict: SELL → {after} (changed)" if after != "SELL" else "- Verdict: SELL"
    assert verdict_line in section
    assert f"since the last memo: **{shown_percent(expected)}**" in section

    [delivery] = [d for d in receiver.to(path)
                  if json.loads(d["body"])["run_id"] == second_run["run_id"]]
    assert verify(secret, delivery["body"], delivery["headers"][SIGNATURE_HEADER])
    [sent] = json.loads(delivery["body"])["changes"]
    assert sent["verdict_before"] == "sell"
    assert sent["excess_return"] == pytest.approx(expected, abs=1e-12)
    assert api.delete(url, timeout=30).status_code == 204


def test_a_name_re_pointed_at_a_private_address_is_never_contacted_at_delivery(
    watch: tuple[DevHost, StepGates], receiver: Receiver
) -> None:
    """Accepted at creation (it resolved to the loopback receiver), then re-pointed at a
    private address (DNS rebinding): the delivery checks the name afresh, is refused before
    any socket opens, and the run completes with the refusal recorded."""
    host, _ = watch
    name, path = "rebound", "/ok/rebound"
    pointing = Path(os.environ["WATCH_TEST_RESOLVE_FILE"])  # the host's, set by `watch`
    pointing.write_text(json.dumps({"rebind.example": ["127.0.0.1"]}))
    port = receiver.server.server_address[1]
    created = put(host, name, {"tickers": ["WRB"], "schedule": YEARLY,
                               "webhook_url": f"http://rebind.example:{port}{path}"})
    assert created.status_code == 201, created.text
    pointing.write_text(json.dumps({"rebind.example": ["10.9.8.7"]}))
    try:
        ran = keyed(host).post(f"{host.base_url}/api/watchlists/{name}/run", timeout=30)
        assert ran.status_code == 202
        wait_for(lambda: any(r.get("notification") for r in ended_runs(host, name)),
                 timeout=120)
        [run] = ended_runs(host, name)
        assert run["status"] == "completed"
        [attempt] = run["notification"]["attempts"]
        assert run["notification"]["delivered"] is False
        assert attempt["failure"] == "refused" and attempt.get("status") is None
        assert receiver.to(path) == []
    finally:
        pointing.unlink()
        keyed(host).delete(f"{host.base_url}/api/watchlists/{name}", timeout=30)


def test_with_a_model_a_run_costs_two_calls_a_ticker_and_one_comparison(
    azurite: Azurite, tmp_path: Path
) -> None:
    """The real app with the OpenAI stand-in: the first run makes 2 calls a ticker and 1 for
    the comparison; the second, whose memos compare with the first's, makes no more (a prompt
    equal to the first run's, the analyst's of the same simulated day or the comparison's, may
    come from the response cache), and each
    strategist prompt of it carries the previous verdict, in its one call."""
    root = app_folder(tmp_path, "StockMemoWatchModel")
    tickers = ["WLA", "WLB"]
    with OpenAIStandIn(default=agents) as llm, pytest.MonkeyPatch.context() as patch:
        with app_settings(
            patch, azurite.connection_string, LLM_PROVIDER="openai", AUTH_MODE="none",
            ANALYSES_PER_HOUR="100000",  # the module's other hosts' settings stay in the env
            OPENAI_API_KEY=llm.api_key, OPENAI_BASE_URL=llm.openai_base_url,
            OPENAI_MODEL=f"gpt-watch-{uuid.uuid4().hex[:8]}",
        ):
            reset_llm_clients()
            try:
                with DevHost("function_app:app", root=root, port=0) as host:
                    api = keyed(host)
                    url = f"{host.base_url}/api/watchlists/model-costs"
                    created = api.put(url, json={"tickers": tickers, "schedule": YEARLY},
                                      timeout=30)
                    assert created.status_code == 201, created.text
                    counts = []
                    for n in (1, 2):
                        assert api.post(f"{url}/run", timeout=30).status_code == 202
                        wait_for(lambda n=n: len([
                            r for r in api.get(url, timeout=30).json()["runs"]
                            if r["status"] == "completed"]) == n, timeout=120)
                        counts.append(len(llm.requests))
                    assert api.delete(url, timeout=30).status_code == 204
            finally:
                reset_llm_clients()
    first, second = llm.requests[:counts[0]], llm.requests[counts[0]:]
    assert counts[0] == 2 * len(tickers) + 1
    assert [r.system for r in first].count(PORTFOLIO_SYSTEM_PROMPT) == 1
    assert len(second) <= 2 * len(tickers) + 1
    assert [r.system for r in second].count(PORTFOLIO_SYSTEM_PROMPT) <= 1  # may be cached
    strategist = [r for r in second if is_strategist(r)]
    assert len(strategist) == len(tickers)  # one each: no regeneration
    assert all(len(r.user) == 1 for r in llm.requests)
    assert all('"id": "previous_verdict"' in r.user[0] for r in strategist)
    assert not any('"id": "previous_verdict"' in r.user[0] for r in first)
