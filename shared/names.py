"""Function names, used by both the registrations and the callers, so a rename cannot drift."""

ANALYSIS_ORCHESTRATOR = "analysis_orchestrator"
BATCH_ORCHESTRATOR = "batch_orchestrator"
WATCHLIST_ORCHESTRATOR = "watchlist_orchestrator"

SET_JOB_STAGE = "set_job_stage"
FETCH_MARKET_DATA = "fetch_market_data"
RUN_QUANT_ANALYST = "run_quant_analyst"
RESEARCH_NEWS = "research_news"
WRITE_MEMO = "write_memo"
PERSIST_REPORT = "persist_report"
FAIL_JOB = "fail_job"
UPDATE_BATCH = "update_batch"
COMPARE_BATCH = "compare_batch"
ADMIT_WATCH_RUN = "admit_watch_run"
RECORD_WATCH_RUN = "record_watch_run"
NOTIFY_WATCH_RUN = "notify_watch_run"

WATCHLIST_EVENT = "watchlist"  # one event name; its payload says run_now, update or stop
