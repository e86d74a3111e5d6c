"""The results as Markdown tables (printed, and pasted into the README's Performance section)."""

from __future__ import annotations

from typing import Any


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _ratio(level: dict[str, Any]) -> str:
    if not level["in_flight"]:
        return "1"
    low, high = level.get("p95_vs_idle_90pct_interval") or (None, None)
    return f"{_num(level['p95_vs_idle'], 2)} ({_num(low, 1)}–{_num(high, 1)})"


def _workers(count: Any) -> str:
    if not count:
        return "language workers: —"
    return f"{count} language worker process{'es' if count != 1 else ''}"


def _verdict(target: dict[str, Any]) -> str:
    return "met" if target["met"] else "**missed**"


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    targets = results["targets"]
    single = results.get("single")
    if single:
        lat = single["latencies_s"]
        lines.append(
            f"**single** (latencies: market {lat['market']:g} s, SPY {lat['spy']:g} s, news "
            f"{lat['news']:g} s, each LLM call {lat['llm']:g} s; median of {single['repeats']}; "
            f"{_workers(single.get('worker_processes'))})"
        )
        lines.append("")
        lines += _table(
            ["measure", "parallel (real orchestrator)", "sequential (derived, same memos)"],
            [
                ["wall time, created_at → completed_at (s)", _num(single["wall_s"], 3),
                 _num(single["sequential_wall_s"], 3)],
                ["bound from the injected latencies (s)", _num(single["bound_s"], 3),
                 _num(single["sequential_bound_s"], 3)],
                ["wall / bound", _num(single["ratio"], 3), _num(single["sequential_ratio"], 3)],
                ["wall, POST → completed seen by the client (s)",
                 _num(single["observed_wall_s"], 3), "—"],
                ["parallel / sequential", _num(single["parallel_over_sequential"], 3), ""],
                ["same memo with zero-latency stand-ins (s)",
                 _num(single["zero_latency_wall_s"], 3), ""],
            ],
        )
        path = single.get("critical_path_s") or {}
        if path:
            lines.append("")
            lines.append(
                f"Above the bound (medians over the memos): the activity invocations on the "
                f"critical path beyond their injected latency (the activities' own work, and "
                f"the way to a worker and back) {_num(path['activity_work_on_path_s'], 3)} s "
                f"(stage updates included: {_num(path['stage_updates_s'], 3)} s), the host "
                f"between activities (replays in a worker, checkpoints) "
                f"{_num(path['host_between_activities_s'], 3)} s. Sequential: the wall time "
                f"plus the {path['activities_off_path']:g} activities run off the path "
                f"({_num(path['activities_off_path_s'], 3)} s) plus a host step "
                f"({_num(path['host_step_s'], 3)} s, the median gap between activities on the "
                f"path) for each."
            )
        lines.append("")
        lines.append(f"single.ratio ≤ 1.10: {_verdict(targets['single_ratio'])}")
        lines.append("")
    llm = results.get("llm")
    if llm:
        lines.append("**llm** (per memo, from the OpenAI stand-in's counters)")
        lines.append("")
        lines += _table(
            ["memos", "calls", "prompt tokens", "completion tokens", "all grounded",
             "job usage = stand-in"],
            [[
                _num(llm["memos"]), _num(llm["calls_per_memo"]),
                _num(llm["prompt_tokens_per_memo"]), _num(llm["completion_tokens_per_memo"]),
                _num(llm["all_grounded"]), _num(llm["job_usage_matches_standin"]),
            ]],
        )
        lines.append("")
        lines.append(f"exactly 2 calls per grounded memo: {_verdict(targets['llm_calls'])}")
        lines.append("")
    host = results.get("host")
    if host:
        lines.append(
            "**host** (no-op activity, n in sequence in one orchestration; "
            f"{_workers(host.get('worker_processes'))})"
        )
        lines.append("")
        lines += _table(
            ["activities", "total (ms)", "per activity (ms)", "step p50 (ms)", "step p95 (ms)",
             "replay p50 (ms)", "last replay (ms)", "activity call p50 (ms)",
             "checkpoint p50 (ms)", "history events", "document (KiB)"],
            [
                [str(r["activities"]), _num(r["total_ms"], 1), _num(r["per_activity_ms"], 2),
                 _num(r["step_p50_ms"], 2), _num(r["step_p95_ms"], 2),
                 _num(r.get("replay_p50_ms"), 2), _num(r["last_replay_ms"], 2),
                 _num(r.get("activity_invocation_p50_ms"), 2),
                 _num(r.get("checkpoint_write_p50_ms"), 2), str(r["history_events_at_end"]),
                 _num(r["document_kib_at_end"], 1)]
                for r in host["sizes"]
            ],
        )
        fit = host["fit_on_longest"]
        lines.append("")
        lines.append(
            f"Replay (the host's context JSON, then the orchestrator invoked in a worker): "
            f"{_num(fit['replay_us_per_history_event'], 1)} µs per history event, of which the "
            f"invocation {_num(fit.get('replay_invocation_us_per_history_event'), 1)}; "
            f"steps of the {fit['activities']}-activity orchestration: "
            f"{_num(fit['step_p50_first_tenth_ms'])} ms (first tenth) → "
            f"{_num(fit['step_p50_last_tenth_ms'])} ms (last tenth)."
        )
        lines.append("")
    load = results.get("load")
    if load:
        threads = load.get("worker_sync_threads")
        pools = f"; each worker runs sync functions on {threads} threads" if threads else ""
        lines.append(
            f"**load** ({load['host']}{pools}; closed loop; activity concurrency "
            f"{load['activity_concurrency']}: "
            f"{_num(load['jobs_per_minute_held'], 1)} jobs/min over the held levels, bound "
            f"{load['jobs_per_minute_bound']})"
        )
        lines.append("")
        rows = []
        for level, check in zip(load["levels"], load["integrity"], strict=True):
            rows.append([
                str(level["in_flight"]) if level["in_flight"] else "idle",
                str(level["posts_measured"]),
                _num(level["post_p50_ms"], 1), _num(level["post_p95_ms"], 1),
                _ratio(level),
                _num(level["jobs_per_minute"], 1),
                f"{check['lost']} / {check['duplicated']} / {check['stuck']}",
                _num(level["peak_rss_mib"], 1),
            ])
        lines += _table(
            ["in flight", "POSTs", "POST p50 (ms)", "POST p95 (ms)", "p95 / idle (90% interval)",
             "jobs/min (window)", "lost / dup / stuck", "peak RSS, host + workers (MiB)"],
            rows,
        )
        lines.append("")
        lines.append(
            f"Job rows that no POST answered with: {load['job_rows_no_post_answered_with']}; "
            f"all {load['drain']['jobs']} jobs ended: {load['drain']['all_ended']}."
        )
        memory = results.get("memory")
        if memory:
            lines.append("")
            host_alone = memory.get("host_process_peak_rss_mib") or {}
            lines.append(
                f"Memory (the host subprocess and the {memory.get('processes', 1) - 1} processes "
                f"below it, {memory.get('worker_processes', 0)} of them language workers; "
                "VmRSS from /proc, summed): "
                f"{_num(memory['rss_at_start_mib'], 1)} MiB at start, "
                f"{_num(memory['peak_rss_mib_while_draining'], 1)} MiB peak while draining, "
                f"VmHWM summed {_num(memory['high_water_mib'], 1)} MiB. The host process alone "
                f"peaked at {_num(max(filter(None, host_alone.values()), default=None), 1)} MiB."
            )
        lines.append("")
        lines.append(f"POST p95 with 50 in flight ≤ 3 × idle: {_verdict(targets['post_p95'])}")
        lines.append("")
    batch = results.get("batch")
    if batch:
        lines += _batch(batch, targets)
    machine = results["machine"]
    lines.append(
        f"nproc {machine['nproc']}, load average {machine['loadavg_start']} → "
        f"{machine['loadavg_end']}, {results['duration_s']:.0f} s"
    )
    return "\n".join(lines)


def _batch(batch: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    n, c, waves = batch["tickers"], batch["concurrency"], batch["waves"]
    lat = batch["latencies_s"]
    lines = [
        f"**batch** ({n} tickers, BATCH_CONCURRENCY {c}; host.json "
        f"maxConcurrentActivityFunctions {batch['max_concurrent_activity_functions']} (≥ 3 × "
        f"{c}), maxConcurrentOrchestratorFunctions "
        f"{batch['max_concurrent_orchestrator_functions']}, PYTHON_THREADPOOL_THREAD_COUNT "
        f"{batch['worker_sync_threads']}; {_workers(batch.get('worker_processes'))}; the "
        f"single part's latencies, BENCHMARK_CACHE_SECONDS=0, LLM_TOKEN_BUDGET "
        f"{batch['llm_token_budget']:,}; batch {batch['status']})",
        "",
    ]
    ideal = (
        f"{waves} × {_num(batch['single_wall_s'], 3)} + {lat['llm']:g} = "
        f"{_num(batch['ideal_s'], 3)}"
    )
    lines += _table(
        ["measure", "value"],
        [
            ["wall time, created_at → comparison stored (s)", _num(batch["wall_s"], 3)],
            [f"ideal: ceil({n} / {c}) × single memo (this run) + one model call (s)", ideal],
            ["wall / ideal", _num(batch["ratio"], 3)],
            ["created_at → completed_at as the batch row has them (s)",
             _num(batch["row_wall_s"], 3)],
            ["children completed", f"{batch['children_completed']} / {n}"],
            [f"model calls (2 × {n} + 1 = {batch['llm_calls_expected']}), all grounded",
             f"{batch['llm_calls']}, {batch['all_grounded']}"],
        ],
    )
    over, line = batch.get("over_ideal_s") or {}, batch.get("timeline_s") or {}
    if over and line:
        lines.append("")
        lines.append(
            f"Above the ideal (s): admission to the first child running "
            f"{_num(over['start_s'], 3)}; the children, first start to last end, "
            f"{_num(line['children_s'], 3)}, {_num(over['children_over_waves_s'], 3)} over "
            f"{waves} single memos (a child p50 {_num(line['child_p50_s'], 3)}: to its persist "
            f"{_num(line['child_memo_p50_s'], 3)} (on its path, the activities beyond their "
            f"latency {_num(line['child_activity_work_on_path_p50_s'], 3)}, the host between "
            f"them {_num(line['child_host_between_activities_p50_s'], 3)}), persist and end "
            f"{_num(line['child_persist_and_end_p50_s'], 3)}; a child's end to the next "
            f"child's start p50 {_num(line['handoff_p50_s'], 3)}, max "
            f"{_num(line['handoff_max_s'], 3)}; update_batch p50 "
            f"{_num(line['update_batch_p50_ms'], 1)} ms × {line['update_batch_calls']}); the "
            f"last child to compare_batch {_num(over['last_child_to_compare_s'], 3)}; "
            f"compare_batch {_num(line['compare_s'], 3)}, "
            f"{_num(over['compare_over_model_call_s'], 3)} over its model call."
        )
    lines.append("")
    lines.append(f"batch.ratio ≤ 1.2: {_verdict(targets['batch_ratio'])}")
    lines.append(
        f"2 × {n} + 1 model calls, all grounded: {_verdict(targets['batch_llm_calls'])}"
    )
    lines.append("")
    return lines
