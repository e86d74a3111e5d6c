"""Twenty analyses at once through the local host (offline providers): every one completes,
none is lost, none is stored twice, none is left running."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devhost.azurite import Azurite
from shared.store.artifacts import memo_blob
from tests.app_env import keyed
from tests.trust.support import StorageView, make_app_root, running_host, submit

HUB = "TrustLoad"
JOBS = 20
TICKERS = ("LOADA", "LOADB", "LOADC", "LOADD")


def test_twenty_concurrent_analyses(azurite: Azurite, tmp_path: Path) -> None:
    view = StorageView(azurite.connection_string, HUB)
    root = make_app_root(tmp_path, HUB)
    with running_host(root, azurite.connection_string, azurite.connection_string,
                      SIMULATED_LATENCY_MS="50") as host:
        tickers = [TICKERS[i % len(TICKERS)] for i in range(JOBS)]
        with ThreadPoolExecutor(JOBS) as pool:
            answers = list(pool.map(lambda t: submit(host, t), tickers))
        assert [a.status_code for a in answers] == [202] * JOBS, [a.text for a in answers]
        ids = [a.json()["id"] for a in answers]
        assert len(set(ids)) == JOBS

        deadline = time.monotonic() + 60
        jobs: dict[str, dict[str, object]] = {}
        with keyed(host) as http:
            while len(jobs) < JOBS and time.monotonic() < deadline:
                for job_id, answer in zip(ids, answers, strict=True):
                    if job_id not in jobs:
                        job = http.get(answer.json()["statusQueryGetUri"], timeout=30).json()
                        if job["status"] in ("completed", "failed", "cancelled"):
                            jobs[job_id] = job
                time.sleep(0.1)
        stuck = [i for i in ids if i not in jobs]
        assert not stuck, f"{len(stuck)} job(s) never finished"
        assert Counter(j["status"] for j in jobs.values()) == {"completed": JOBS}
        instances = view.instances()

    assert {i: instances.get(i) for i in ids} == dict.fromkeys(ids, "Completed")
    memos = [n for n in view.blob_names() if n.endswith("/memo.md")]
    for ticker, job_id in zip(tickers, ids, strict=True):
        assert memos.count(memo_blob(ticker, job_id)) == 1
        assert len(view.log_entries(job_id)) == 1
        row = view.job_row(job_id)
        assert row is not None and row["Status"] == "completed"
    assert len([m for m in memos if m.split("/")[1] in set(ids)]) == JOBS
    view.assert_no_false_success()
