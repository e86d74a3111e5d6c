"""The real API, orchestrator and activities, except that write_memo and persist_report pass a
`StepGates` gate first (then run the real step), so a test can cancel a job while the memo is
being written or persisted. Runs in the host's language workers; the test steers the gates
through the `tests.control.Board` named by TEST_CONTROL_DIR.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities import batch, job_stage, market_data, news_research, quant_analyst
from activities.decision import decide
from activities.persist import persist
from api import analyses, batches, reports
from orchestrators import analysis
from orchestrators import batch as batch_orchestration
from shared import names
from shared.contracts import MemoInput, PersistInput
from tests.control import Board
from tests.e2e.step_gates import StepGates

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (
    analyses.bp, reports.bp, analysis.bp, job_stage.bp, market_data.bp, news_research.bp,
    quant_analyst.bp, batches.bp, batch_orchestration.bp, batch.bp,
):
    app.register_functions(blueprint)


def gates() -> StepGates:
    return StepGates(Board.from_environment())


@app.activity_trigger(input_name="payload", activity=names.WRITE_MEMO)
def write_memo(payload: dict) -> dict[str, Any]:
    request = MemoInput.model_validate(payload)
    return gates().through(
        "memo", request.ticker, lambda: decide(request).model_dump(mode="json")
    )


@app.activity_trigger(input_name="payload", activity=names.PERSIST_REPORT)
def persist_report(payload: dict) -> dict[str, Any]:
    request = PersistInput.model_validate(payload)
    return gates().through(
        "persist", request.ticker, lambda: persist(request).model_dump(mode="json")
    )
