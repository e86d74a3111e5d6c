"""A function app with the REAL analysis orchestrator and scripted stand-in activities.

It runs in the host's language-worker processes. Tests script each job's activities through a
`tests.control.Board` (`Scripted.script(job_id, step="fail")`), so the orchestrator's branches
run through the host's real replay without touching storage or providers, and read back the
attempts and calls the activities recorded there.
"""

from __future__ import annotations

import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrators import analysis
from shared import names
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.errors import LlmFailed, MarketDataUnavailable, NewsUnavailable, StorageFailed
from tests.control import Board
from tests.orchestrators.scripted import Scripted

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(analysis.bp)

ERRORS = {
    "subject": MarketDataUnavailable("the market data stand-in failed"),
    "benchmark": MarketDataUnavailable("the SPY stand-in failed"),
    "news": NewsUnavailable("the news stand-in failed"),
    "quant": LlmFailed("the quant stand-in failed"),
    "memo": LlmFailed("the strategist stand-in failed"),
    "persist": StorageFailed("the storage stand-in failed"),
}


@app.route(route="start/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(
        names.ANALYSIS_ORCHESTRATOR, req.route_params["instance_id"], req.get_json()
    )
    return client.create_check_status_response(req, instance_id)


def scripted() -> Scripted:
    return Scripted(Board.from_environment())


def _play(step: str, payload: dict[str, Any]) -> str:
    shared, job_id = scripted(), payload["job_id"]
    attempt = shared.attempt(job_id, step)
    behaviour = shared.behaviour(job_id, step)
    if behaviour.startswith("slow:"):
        time.sleep(float(behaviour.split(":", 1)[1]))
    elif behaviour == "fail" or (behaviour == "fail_twice" and attempt <= 2):
        raise ERRORS[step]
    elif behaviour == "keyerror":  # a bug in the activity, not a provider failing
        raise KeyError(f"{step}_field")
    return behaviour


def _record(activity: str, payload: dict[str, Any]) -> None:
    scripted().record_call(activity, payload)


@app.activity_trigger(input_name="payload", activity=names.SET_JOB_STAGE)
def set_job_stage(payload: dict) -> dict[str, str]:
    _record(names.SET_JOB_STAGE, payload)
    return {"status": payload["status"], "stage": payload["stage"]}


@app.activity_trigger(input_name="payload", activity=names.FAIL_JOB)
def fail_job(payload: dict) -> dict[str, str]:
    _record(names.FAIL_JOB, payload)
    return {"status": "failed", "stage": "failed"}


@app.activity_trigger(input_name="payload", activity=names.FETCH_MARKET_DATA)
def fetch_market_data(payload: dict) -> dict[str, Any]:
    _record(names.FETCH_MARKET_DATA, payload)
    step = "benchmark" if payload["symbol"] == BENCHMARK_SYMBOL else "subject"
    if _play(step, payload) == "unknown":
        return {"outcome": "unknown_ticker", "symbol": payload["symbol"], "source": "script",
                "message": f"{payload['symbol']} is not a known symbol"}
    return {"outcome": "ok", "symbol": payload["symbol"], "source": "script",
            "artifact": f"work/market_{payload['symbol']}"}


@app.activity_trigger(input_name="payload", activity=names.RESEARCH_NEWS)
def research_news(payload: dict) -> dict[str, Any]:
    _record(names.RESEARCH_NEWS, payload)
    _play("news", payload)
    return {"provider": "script", "status": "ok", "article_count": 2, "artifact": "work/news"}


@app.activity_trigger(input_name="payload", activity=names.RUN_QUANT_ANALYST)
def run_quant_analyst(payload: dict) -> dict[str, Any]:
    _record(names.RUN_QUANT_ANALYST, payload)
    _play("quant", payload)
    return {"outcome": "ok", "completeness_score": 0.9, "missing": [], "artifact": "work/quant"}


@app.activity_trigger(input_name="payload", activity=names.WRITE_MEMO)
def write_memo(payload: dict) -> dict[str, Any]:
    _record(names.WRITE_MEMO, payload)
    _play("memo", payload)
    return {"verdict": "hold", "confidence": 0.5, "grounding": "not_applicable",
            "artifact": "work/decision"}


@app.activity_trigger(input_name="payload", activity=names.PERSIST_REPORT)
def persist_report(payload: dict) -> dict[str, Any]:
    _record(names.PERSIST_REPORT, payload)
    _play("persist", payload)
    return {"job_status": "completed", "memo_blob": "memo.md", "evidence_blob": "evidence.json",
            "verdict": "hold", "confidence": 0.5}
