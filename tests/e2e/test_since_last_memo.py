"""What changed since the last memo, end to end on the local host (issue 17, item 4): a live
memo, then a re-analysis of the same ticker with `previous` set to the caller's latest completed
live memo, as a watchlist run's batch sets it (a wrapper app's test route starts it; the
watchlist's own trigger is the watchlist's). The model is the OpenAI stand-in.

The first memo is then made a month old: its stored evidence loses its last 21 closes and its
row says SELL, so the second memo has a window to realise a return over and a verdict change
to state. The section is checked against a numpy computation from the stored evidence.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from shared.agents.llm.client import reset_llm_clients
from shared.agents.llm.prompts import QUANT_SYSTEM_PROMPT, STRATEGIST_SYSTEM_PROMPT
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.artifacts import evidence_blob, memo_blob
from shared.store.rows import job_row_key
from tests.app_env import key_header
from tests.standins.openai_server import OpenAIStandIn
from tests.trust.agents import agents, is_strategist
from tests.trust.support import follow, make_app_root, running_host, submit

RERUN_APP = "tests.e2e.apps.rerun.function_app:app"
DAYS_BACK = 21


def shown_percent(fraction: float) -> str:
    percent = round(fraction * 100, 1)
    return "0.0%" if percent == 0 else f"{percent:+.1f}%"


def independent_excess(current: dict[str, Any], then: str) -> float:
    ticker, bench = current["quant"]["ticker_series"], current["quant"]["benchmark_series"]
    t_dates = np.array(ticker["dates"], dtype="datetime64[D]")
    b_dates = np.array(bench["dates"], dtype="datetime64[D]")
    t_close, b_close = np.array(ticker["closes"]), np.array(bench["closes"])
    i = np.nonzero(t_dates <= np.datetime64(then))[0].max()
    j = np.nonzero(b_dates <= np.datetime64(then))[0].max()
    k = np.nonzero(b_dates <= t_dates[-1])[0].max()
    return float((t_close[-1] / t_close[i] - 1) - (b_close[k] / b_close[j] - 1))


def test_the_second_memo_states_the_verdict_change_and_the_realised_excess_return(
    azurite: Azurite, tmp_path: Path
) -> None:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    reports = blobs.get_container_client(REPORTS_CONTAINER)
    table = TableServiceClient.from_connection_string(azurite.connection_string)
    root = make_app_root(tmp_path, "SinceLastMemo")
    settings = {"NEWS_PROVIDER": "none", "LLM_PROVIDER": "openai"}
    with OpenAIStandIn(default=agents) as llm:
        settings |= {
            "OPENAI_API_KEY": llm.api_key,
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_MODEL": f"gpt-since-{uuid.uuid4().hex[:8]}",  # no cache hits from others
        }
        reset_llm_clients()
        try:
            with running_host(root, azurite.connection_string, azurite.connection_string,
                              app=RERUN_APP, **settings) as host:
                answer = submit(host, "MSFT")
                assert answer.status_code == 202, answer.text
                first = follow(host, answer.json()["statusQueryGetUri"])
                assert first["status"] == "completed", first
                first_calls = llm.calls

                # The first memo, a month old: its evidence ends 21 closes earlier, it said SELL.
                name = evidence_blob("MSFT", first["id"])
                document = json.loads(reports.download_blob(name).readall())
                series = document["quant"]["ticker_series"]
                series["dates"] = series["dates"][:-DAYS_BACK]
                series["closes"] = series["closes"][:-DAYS_BACK]
                then = series["dates"][-1]
                reports.upload_blob(name, json.dumps(document).encode(), overwrite=True)
                table.get_table_client(ANALYSES_TABLE).update_entity(
                    {"PartitionKey": "anonymous", "RowKey": job_row_key(first["id"]),
                     "Verdict": "sell", "Confidence": 0.3},
                    mode=UpdateMode.MERGE,
                )

                rerun = requests.post(f"{host.base_url}/api/test/reruns/MSFT",
                                      headers=key_header(host), timeout=30)
                assert rerun.status_code == 202, rerun.text
                assert rerun.json()["previous"] == first["id"]
                second = follow(host, f"{host.base_url}/api/analyses/{rerun.json()['id']}")
        finally:
            reset_llm_clients()

    assert second["status"] == "completed", second
    # Two calls a memo, still: the analyst's and the strategist's, with no regeneration (the
    # strategist addressed the previous call in its one call). The second analyst's prompt is
    # the first's (the same simulated day), so the response cache answers it without a call.
    assert first_calls == 2
    systems = [r.system for r in llm.requests]
    assert systems in (
        [QUANT_SYSTEM_PROMPT, STRATEGIST_SYSTEM_PROMPT, STRATEGIST_SYSTEM_PROMPT],
        [QUANT_SYSTEM_PROMPT, STRATEGIST_SYSTEM_PROMPT] * 2,
    )
    assert all(len(r.user) == 1 for r in llm.requests)  # no regeneration message
    current = json.loads(reports.download_blob(evidence_blob("MSFT", second["id"])).readall())
    expected = independent_excess(current, then)
    assert current["changes"]["realised_excess_return"] == pytest.approx(expected, abs=1e-12)
    memo = reports.download_blob(memo_blob("MSFT", second["id"])).readall().decode()
    section = memo[memo.index("## Since the last memo\n"):memo.index("## Quantitative picture")]
    assert f"completed {first['completed_at'][:10]}" in section
    assert "- Verdict: SELL → HOLD (changed)" in section
    assert "- Confidence: 0.30 → " in section
    assert f"since the last memo: **{shown_percent(expected)}**" in section

    strategist = [r for r in llm.requests if is_strategist(r)]
    assert len(strategist) == 2
    assert "previous_verdict" not in strategist[0].user[0]
    prompt = strategist[1].user[0]
    assert '"id": "previous_verdict", "label": "The previous memo\'s verdict", "value": "sell"' in (
        prompt
    )
    assert '"id": "realised_excess_return"' in prompt
    assert f'"value": "{shown_percent(expected)}"' in prompt
    assert "[previous_verdict]" in memo  # the strategist addressed it, grounded
    assert "Grounding: grounded" in memo
