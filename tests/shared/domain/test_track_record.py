"""shared.domain.track_record against an independent computation (numpy and pandas: average
ranks, np.corrcoef, groupby means, np.percentile), on a small fixed set of decisions with known
forward returns: ties in score and in return, a date with a single decision, all verdicts equal,
a horizon without data."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from shared.domain.evidence import PriceSeries
from shared.domain.models import Verdict
from shared.domain.track_record import (
    CALIBRATION_EDGES,
    MIN_VERDICT_DECISIONS,
    Decision,
    SignalVerdict,
    calibration_bucket,
    forward_excess_return,
    summarise,
)

B, H, S = Verdict.BUY, Verdict.HOLD, Verdict.SELL
D1, D2, D3, D4, D5 = (date(2020, 1, 2), date(2020, 4, 1), date(2020, 7, 1), date(2020, 10, 1),
                      date(2021, 1, 4))

# (as_of, ticker, verdict, confidence, excess at 21, excess at 63)
FIXED = [
    (D1, "AAA", B, 0.7, 0.04, 0.10),
    (D1, "BBB", S, 0.7, -0.02, None),      # 63 days not available
    (D1, "CCC", H, 0.5, 0.01, 0.02),
    (D2, "AAA", B, 0.9, 0.03, 0.05),       # the date with a single decision
    (D3, "AAA", B, 0.7, 0.01, -0.01),      # same score as D1 AAA: a tie in the score
    (D3, "BBB", S, 0.3, 0.01, -0.01),      # same returns as D3 AAA: a tie in the return
    (D3, "CCC", S, 0.6, -0.05, -0.04),
    (D3, "DDD", H, 0.4, 0.00, 0.00),
    (D4, "AAA", S, 0.8, 0.02, 0.01),
    (D4, "BBB", B, 0.2, -0.03, None),
    (D5, "AAA", B, 0.55, None, None),      # the data ends before either horizon
    (D5, "BBB", H, 0.5, -0.01, None),
]
SIGNS = {B: 1, H: 0, S: -1}


def decisions(rows: list[tuple[date, str, Verdict, float, float | None, float | None]] = FIXED,
              ) -> list[Decision]:
    return [
        Decision(ticker=ticker, as_of=day, job_id=f"{ticker}-{day.isoformat()}", verdict=verdict,
                 confidence=confidence, forward_excess_return={"21": e21, "63": e63})
        for day, ticker, verdict, confidence, e21, e63 in rows
    ]


def frame(rows: list[Decision], horizon: int) -> pd.DataFrame:
    """The scored decisions as the independent computation sees them."""
    data = pd.DataFrame([
        {"as_of": d.as_of, "ticker": d.ticker, "verdict": d.verdict.value,
         "score": SIGNS[d.verdict] * d.confidence, "excess": d.forward_excess_return[str(horizon)]}
        for d in rows
    ])
    return data.dropna(subset=["excess"]).sort_values(["as_of", "ticker"]).reset_index(drop=True)


def spearman(data: pd.DataFrame) -> float:
    return float(np.corrcoef(data["score"].rank(method="average"),
                             data["excess"].rank(method="average"))[0, 1])


def long_short(data: pd.DataFrame) -> float:
    means = data.groupby("verdict")["excess"].mean()
    return float(means["buy"] - means["sell"])


def reference_intervals(data: pd.DataFrame, seed: int, resamples: int,
                        ) -> tuple[tuple[float, float], tuple[float, float]]:
    """The documented draws (random.Random(seed), k draws of randrange(k) over the sorted dates
    per resample), each resample's statistics by pandas/numpy, 2.5/97.5 percentiles by numpy."""
    days = sorted(data["as_of"].unique())
    blocks = [data[data["as_of"] == day] for day in days]
    rng = random.Random(seed)
    ics, spreads = [], []
    for _ in range(resamples):
        sample = pd.concat([blocks[rng.randrange(len(days))] for _ in range(len(days))])
        if sample["verdict"].nunique() > 1 and sample["score"].nunique() > 1 \
                and sample["excess"].nunique() > 1:
            ics.append(spearman(sample))
        if {"buy", "sell"} <= set(sample["verdict"]):
            spreads.append(long_short(sample))
    assert len(ics) >= 0.9 * resamples and len(spreads) >= 0.9 * resamples
    ic = np.percentile(ics, [2.5, 97.5])
    ls = np.percentile(spreads, [2.5, 97.5])
    return (float(ic[0]), float(ic[1])), (float(ls[0]), float(ls[1]))


# -- forward excess return -------------------------------------------------------------------


def weekdays(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


DAYS = weekdays(date(2024, 1, 1), 10)  # Mon 1 Jan .. Fri 12 Jan
TICKER = PriceSeries(symbol="ACME", dates=DAYS,
                     closes=[100, 101, 102, 104, 110, 120, 118, 119, 121, 125], source="test")
BENCH = PriceSeries(symbol="^GSPC", dates=DAYS,
                    closes=[50, 50.5, 51, 51, 52, 53, 52, 52.5, 53, 54], source="test")


def test_forward_excess_return_counts_trading_days_of_the_ticker() -> None:
    # as_of Wednesday 3 Jan = index 2; two trading days on = index 4 (Fri 5 Jan).
    got = forward_excess_return(TICKER, BENCH, date(2024, 1, 3), 2)
    assert got == pytest.approx((110 / 102 - 1) - (52 / 51 - 1))


def test_as_of_on_a_weekend_uses_the_last_trading_day_before_it() -> None:
    saturday = date(2024, 1, 6)  # t = Fri 5 Jan (index 4); t+3 = Wed 10 Jan (index 7)
    got = forward_excess_return(TICKER, BENCH, saturday, 3)
    assert got == pytest.approx((119 / 110 - 1) - (52.5 / 52 - 1))
    assert got == forward_excess_return(TICKER, BENCH, date(2024, 1, 5), 3)


def test_the_end_of_the_data_is_none() -> None:
    assert forward_excess_return(TICKER, BENCH, date(2024, 1, 11), 1) is not None  # index 9
    assert forward_excess_return(TICKER, BENCH, date(2024, 1, 11), 2) is None
    assert forward_excess_return(TICKER, BENCH, date(2024, 1, 12), 1) is None  # last day
    assert forward_excess_return(TICKER, BENCH, date(2025, 1, 1), 1) is None


def test_before_the_first_day_is_none() -> None:
    assert forward_excess_return(TICKER, BENCH, date(2023, 12, 31), 1) is None


def test_a_benchmark_without_either_date_is_none_never_a_nearby_day() -> None:
    gap = [d for d in DAYS if d != date(2024, 1, 5)]
    bench = (gap, [c for d, c in zip(DAYS, BENCH.closes, strict=True) if d in gap])
    assert forward_excess_return(TICKER, bench, date(2024, 1, 3), 2) is None  # end missing
    assert forward_excess_return(TICKER, bench, date(2024, 1, 6), 3) is None  # start missing
    assert forward_excess_return(TICKER, bench, date(2024, 1, 3), 3) is not None


def test_plain_date_and_close_tuples_work_too() -> None:
    as_tuples = forward_excess_return((TICKER.dates, TICKER.closes),
                                      (BENCH.dates, BENCH.closes), date(2024, 1, 3), 2)
    assert as_tuples == forward_excess_return(TICKER, BENCH, date(2024, 1, 3), 2)


def test_a_horizon_below_one_day_is_refused() -> None:
    with pytest.raises(ValueError):
        forward_excess_return(TICKER, BENCH, date(2024, 1, 3), 0)


# -- the statistics against the independent computation --------------------------------------


@pytest.mark.parametrize("horizon", [21, 63])
def test_counts_means_and_medians_by_verdict(horizon: int) -> None:
    rows = decisions()
    record = summarise(rows, horizon, resamples=200)
    data = frame(rows, horizon)
    assert record.n_decisions == len(FIXED)
    assert record.n_scored == len(data)
    assert record.n_dates == data["as_of"].nunique()
    for stats in record.by_verdict:
        own = data[data["verdict"] == stats.verdict.value]["excess"]
        assert stats.count == sum(1 for r in FIXED if r[2] is stats.verdict)
        assert stats.n == len(own)
        assert stats.mean == pytest.approx(own.mean())
        assert stats.median == pytest.approx(own.median())


@pytest.mark.parametrize("horizon", [21, 63])
def test_ic_and_long_short_match_pandas_and_numpy(horizon: int) -> None:
    rows = decisions()
    record = summarise(rows, horizon, seed=7, resamples=400)
    data = frame(rows, horizon)
    assert data["score"].duplicated().any() and data["excess"].duplicated().any()  # ties
    assert record.ic.value == pytest.approx(spearman(data))
    assert record.ic.n == len(data)
    assert record.long_short.value == pytest.approx(long_short(data))
    ic, ls = reference_intervals(data, seed=7, resamples=400)
    assert record.ic.interval is not None and record.long_short.interval is not None
    assert (record.ic.interval.low, record.ic.interval.high) == pytest.approx(ic)
    assert (record.long_short.interval.low, record.long_short.interval.high) == pytest.approx(ls)


def test_hit_rates_beside_base_rates_on_the_same_dates() -> None:
    rows = decisions()
    record = summarise(rows, 21, resamples=100)
    data = frame(rows, 21)
    by = {h.verdict: h for h in record.hit_rates}
    buys = data[data["verdict"] == "buy"]
    on_buy_days = data[data["as_of"].isin(buys["as_of"])]
    assert (by[B].hits, by[B].n) == ((buys["excess"] > 0).sum(), len(buys))
    assert (by[B].base_hits, by[B].base_n) == ((on_buy_days["excess"] > 0).sum(),
                                               len(on_buy_days))
    sells = data[data["verdict"] == "sell"]
    on_sell_days = data[data["as_of"].isin(sells["as_of"])]
    assert by[S].rate == pytest.approx((sells["excess"] < 0).mean())
    assert by[S].base_rate == pytest.approx((on_sell_days["excess"] < 0).mean())
    assert by[S].n_dates == sells["as_of"].nunique()


def test_calibration_buckets_count_directional_calls_only() -> None:
    assert [calibration_bucket(c) for c in (0.0, 0.1999, 0.2, 0.5999, 0.6, 0.8, 0.99, 1.0)] == [
        0, 0, 1, 2, 3, 4, 4, 4]
    record = summarise(decisions(), 21, resamples=100)
    data = frame(decisions(), 21)
    calls = data[data["verdict"] != "hold"].copy()
    calls["confidence"] = calls["score"].abs()
    calls["hit"] = np.where(calls["verdict"] == "buy", calls["excess"] > 0, calls["excess"] < 0)
    edges = list(CALIBRATION_EDGES)
    calls["bucket"] = pd.cut(calls["confidence"], edges[:-1] + [1.0001], right=False,
                             labels=False)
    assert [(b.low, b.high) for b in record.calibration] == list(zip(edges, edges[1:],
                                                                     strict=False))
    assert [b.includes_high for b in record.calibration] == [False] * 4 + [True]
    for index, bucket in enumerate(record.calibration):
        inside = calls[calls["bucket"] == index]
        assert (bucket.n, bucket.hits) == (len(inside), int(inside["hit"].sum()))
        assert bucket.rate == (pytest.approx(inside["hit"].mean()) if len(inside) else None)
    assert sum(b.n for b in record.calibration) == len(calls)


def test_long_short_by_date_and_its_running_sum() -> None:
    record = summarise(decisions(), 21, resamples=100)
    data = frame(decisions(), 21)
    expected = []
    for day, group in data.groupby("as_of"):
        if {"buy", "sell"} <= set(group["verdict"]):
            expected.append((day, long_short(group)))
    assert [p.as_of for p in record.long_short_by_date] == [d for d, _ in expected]
    assert [p.spread for p in record.long_short_by_date] == pytest.approx(
        [s for _, s in expected])
    assert [p.cumulative for p in record.long_short_by_date] == pytest.approx(
        list(np.cumsum([s for _, s in expected])))


# -- the bootstrap ---------------------------------------------------------------------------


def test_same_seed_same_intervals_different_seed_different() -> None:
    first = summarise(decisions(), 21, seed=3, resamples=300)
    again = summarise(list(reversed(decisions())), 21, seed=3, resamples=300)  # input order
    other = summarise(decisions(), 21, seed=4, resamples=300)
    assert first == again
    assert first.ic.interval != other.ic.interval
    assert first.long_short.interval != other.long_short.interval
    assert first.bootstrap.seed == 3 and first.bootstrap.resamples == 300


def test_the_default_is_2000_resamples_with_a_fixed_seed() -> None:
    record = summarise(decisions(), 21)
    assert record.bootstrap.resamples == 2000
    assert record == summarise(decisions(), 21)
    assert record.ic.resamples_defined <= 2000


def test_intervals_cover_a_known_zero_and_a_known_spread_about_as_often_as_stated() -> None:
    """Coverage: on data whose true spread is known (buys +2% above sells, per-date market noise
    shared by every decision of the date), the 95% interval contains it in most of 40 runs."""
    covered = 0
    for run in range(40):
        rng = np.random.default_rng(run)
        rows = []
        for i in range(12):
            day = date(2019, 1, 1) + timedelta(days=30 * i)
            shock = rng.normal(0, 0.03)
            for j, verdict in enumerate((B, B, S, S, H)):
                excess = shock + rng.normal(0, 0.04) + (0.01 if verdict is B else
                                                        -0.01 if verdict is S else 0)
                rows.append((day, f"T{j}", verdict, 0.6, float(excess), None))
        interval = summarise(decisions(rows), 21, seed=run, resamples=300).long_short.interval
        assert interval is not None
        covered += interval.low <= 0.02 <= interval.high
    assert covered >= 33  # 95% nominal; 33 of 40 leaves room for a small-sample bootstrap


# -- what cannot be computed -----------------------------------------------------------------


def test_all_verdicts_equal_leaves_ic_and_spread_undefined_in_words() -> None:
    rows = [(day, t, B, conf, e, None) for day, t, _, conf, e, _ in FIXED]
    record = summarise(decisions(rows), 21, resamples=200)
    assert record.ic.value is None and record.ic.interval is None
    assert record.ic.reason is not None and "every scored verdict is buy" in record.ic.reason
    assert record.long_short.value is None and record.long_short.interval is None
    assert record.long_short.reason == "no scored sell verdict"
    assert record.verdict is SignalVerdict.INSUFFICIENT
    assert record.verdict_text.startswith("No evidence of signal")
    assert "undefined" in record.verdict_text
    assert [b.count for b in record.by_verdict] == [len(FIXED), 0, 0]


def test_a_horizon_without_data_answers_with_nothing_undefined_raised() -> None:
    rows = [(day, t, v, c, e, None) for day, t, v, c, e, _ in FIXED]
    record = summarise(decisions(rows), 63)
    assert (record.n_decisions, record.n_scored, record.n_dates) == (len(FIXED), 0, 0)
    assert record.first_as_of is None and record.ic.value is None
    assert record.ic.reason is not None and record.long_short.interval is None
    assert all(b.n == 0 and b.rate is None for b in record.calibration)
    assert all(h.rate is None and h.base_rate is None for h in record.hit_rates)
    assert record.verdict is SignalVerdict.INSUFFICIENT
    json.dumps(record.model_dump(mode="json"))


def test_a_single_date_gives_estimates_without_intervals() -> None:
    rows = [r for r in FIXED if r[0] == D3]
    record = summarise(decisions(rows), 21)
    assert record.ic.value is not None and record.long_short.value is not None
    assert record.ic.interval is None and record.ic.interval_reason is not None
    assert "decision dates" in record.ic.interval_reason


# -- the verdict in words --------------------------------------------------------------------


def synthetic(edge: float, seed: int, dates: int = 12) -> list[Decision]:
    """Six decisions a date, two of each verdict; buys beat the market by `edge` on average,
    sells trail it by as much, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(dates):
        day = date(2016, 1, 4) + timedelta(days=91 * i)
        for j, verdict in enumerate((B, B, H, H, S, S)):
            drift = edge * SIGNS[verdict]
            rows.append((day, f"T{j}", verdict, float(rng.uniform(0.3, 0.9)),
                         float(drift + rng.normal(0, 0.04)), None))
    return decisions(rows)


def test_clear_signal_is_called_signal() -> None:
    record = summarise(synthetic(0.05, seed=1), 21)
    assert record.n_scored >= MIN_VERDICT_DECISIONS
    assert record.verdict is SignalVerdict.SIGNAL
    assert record.verdict_text.startswith("Evidence of signal")
    assert record.ic.interval is not None and record.ic.interval.low > 0


def test_verdicts_pointing_the_wrong_way_are_called_inverted() -> None:
    record = summarise(synthetic(-0.05, seed=1), 21)
    assert record.verdict is SignalVerdict.INVERTED


def test_noise_is_no_evidence_of_signal_about_as_often_as_the_level_says() -> None:
    """On pure noise the rule errs (either way) about as often as its 95% intervals allow:
    measured at 5-6% over 100 seeds; here at most 2 of 20 fixed seeds."""
    records = [summarise(synthetic(0.0, seed=seed), 21, resamples=500) for seed in range(20)]
    called = [r.verdict for r in records]
    assert called.count(SignalVerdict.NO_SIGNAL) >= 18
    quiet = next(r for r in records if r.verdict is SignalVerdict.NO_SIGNAL)
    assert quiet.verdict_text.startswith("No evidence of signal: the intervals do not both")


def test_a_clear_signal_on_too_few_dates_is_still_insufficient() -> None:
    record = summarise(synthetic(0.05, seed=1, dates=4), 21)
    assert record.verdict is SignalVerdict.INSUFFICIENT
    assert "4 dates" in record.verdict_text


def test_decisions_before_the_cutoff_are_flagged_and_the_words_say_so() -> None:
    record = summarise(decisions(), 21, resamples=100, cutoff=D3)
    assert record.contamination is not None
    assert record.contamination.flagged == 4  # D1 x3, D2
    assert record.contamination.flagged_scored == 4
    assert record.contamination.n == len(FIXED)
    assert "training cutoff 2020-07-01" in record.verdict_text
    assert summarise(decisions(), 21, resamples=100).contamination is None


def test_the_record_is_json() -> None:
    dumped = json.loads(json.dumps(summarise(decisions(), 21, resamples=100).model_dump(
        mode="json")))
    assert dumped["horizon"] == 21 and dumped["ic"]["n"] == 11
    assert dumped["verdict"] in {v.value for v in SignalVerdict}
