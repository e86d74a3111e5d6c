"""The track record: every verdict scored against what the ticker did next, and whether the
verdicts carry any signal. Pure and deterministic, no I/O, no numpy (the app runs this too).

Conventions, one place for all of them:

- **Forward excess return** at horizon h (trading days): t is the last date on or before `as_of`
  in the TICKER's series, t+h the date h entries later in the same series (so every price used
  after t is strictly after `as_of`), and the excess is `(P[t+h] / P[t] - 1) - (B[t+h] / B[t] - 1)`
  with B the benchmark's close ON THOSE TWO DATES. None when the ticker has no date on or before
  `as_of`, when its series ends before t+h, or when the benchmark has no close on t or on t+h:
  a nearby benchmark day is never used, since it would mix two different windows.
- **Scored decisions** at a horizon: those whose forward excess return there is not None. Every
  statistic below is over the scored decisions, and says its n.
- **Signed score**: buy +1, hold 0, sell -1, times the confidence.
- **IC**: Spearman's rank correlation between the signed score and the forward excess return,
  pooled over all scored decisions (not per date), with average ranks for ties: the Pearson
  correlation of the two rank vectors. Undefined (None, with the reason in words) with fewer
  than `MIN_IC_DECISIONS` decisions, when every scored decision has the same verdict (the IC
  would then rank confidence alone, not the verdicts), or when either ranked vector is constant.
- **Long-short spread**: mean excess of the scored buys minus that of the scored sells;
  undefined without at least one of each. Its n is the buys plus the sells, its dates those
  with a buy or a sell.
- **Bootstrap**: `resamples` (2,000) resamples of the decision DATES, with replacement: a
  resample draws as many dates as there are scored dates and takes every scored decision of
  each drawn date (a date drawn twice counts twice), so decisions made on the same day, which
  share one market, move together. The draws are exactly: `rng = random.Random(seed)`; for each
  resample, `[rng.randrange(k) for _ in range(k)]` indexes into the k scored dates in ascending
  order. IC and spread are computed on the same resamples. A resample where the statistic is
  undefined (e.g. no sell drawn) is left out; the interval is the 2.5th and 97.5th percentiles
  (linear interpolation between order statistics, numpy's default) of the defined values, and
  is None when the point estimate is undefined, there are fewer than `MIN_BOOTSTRAP_DATES`
  dates, or fewer than `MIN_DEFINED_SHARE` of the resamples gave a value (the rest would
  describe a biased subset). Decisions within a date are ordered by ticker and job id, so the
  result does not depend on the input order.
- **Hit rates**: a buy hits when its excess > 0, a sell when its excess < 0 (0 is a miss for
  both). Beside each, the base rate of the same outcome over ALL scored decisions (every
  verdict) on the dates where that verdict was given: what always saying "buy" on those days
  would have scored.
- **Calibration**: hit rate of the directional calls (buys and sells; a hold makes no call) by
  confidence bucket, edges `CALIBRATION_EDGES`: [0, 0.2), [0.2, 0.4), [0.4, 0.6), [0.6, 0.8),
  [0.8, 1.0]; the last includes 1.
- **Long-short by date** (for the cumulative chart): on each date with at least one scored buy
  and one scored sell, mean buy excess minus mean sell excess, and their running sum. Windows of
  consecutive dates overlap when the horizon is longer than the spacing, so the running sum is a
  picture of consistency, not a tradable return.
- **The verdict in words** (`VERDICT_RULE`), deliberately conservative:
  * "insufficient data" unless there are at least `MIN_VERDICT_DECISIONS` (30) scored decisions
    on at least `MIN_VERDICT_DATES` (8) dates with at least `MIN_VERDICT_PER_SIDE` (5) scored
    buys and 5 scored sells;
  * "evidence of signal" only if BOTH the IC interval and the long-short interval lie entirely
    above 0;
  * "evidence of an inverted signal" if both lie entirely below 0;
  * "no evidence of signal" otherwise (an interval undefined or containing 0, or the two
    disagreeing).
  Hit rates and calibration are shown but do not enter the rule. On pure noise (simulated,
  100 seeds, 12 dates of 6 decisions) the rule calls a signal either way about 5% of the time:
  its two intervals move together, so requiring both adds little beyond one 95% test.
- **Contamination**: with a cutoff date (the model's training cutoff), the decisions dated before
  it are counted as possibly contaminated: the model may remember what happened next.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from shared.domain.formatting import MISSING, format_value
from shared.domain.models import Verdict

HORIZONS: tuple[int, ...] = (21, 63)
RESAMPLES = 2000
BOOTSTRAP_SEED = 16
LEVEL = 0.95
MIN_IC_DECISIONS = 3
MIN_BOOTSTRAP_DATES = 2
MIN_DEFINED_SHARE = 0.9
MIN_VERDICT_DECISIONS = 30
MIN_VERDICT_DATES = 8
MIN_VERDICT_PER_SIDE = 5
CALIBRATION_EDGES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
SIGN = {Verdict.BUY: 1, Verdict.HOLD: 0, Verdict.SELL: -1}
VERDICT_RULE = (
    f"Evidence of signal only when there are at least {MIN_VERDICT_DECISIONS} scored decisions "
    f"on at least {MIN_VERDICT_DATES} dates with at least {MIN_VERDICT_PER_SIDE} buys and "
    f"{MIN_VERDICT_PER_SIDE} sells, AND both the IC's and the long-short spread's "
    f"{LEVEL:.0%} intervals lie entirely above 0 (entirely below 0: an inverted signal); "
    "anything else is no evidence of signal."
)


class Decision(BaseModel):
    """One memo's verdict and what followed it; `forward_excess_return` is keyed by the horizon
    in trading days as a string ("21", "63"), None where the data ends."""

    ticker: str
    as_of: date
    job_id: str
    verdict: Verdict
    confidence: float = Field(ge=0, le=1)
    forward_excess_return: dict[str, float | None] = Field(default_factory=dict)

    @property
    def score(self) -> float:
        """The signed score: buy +1, hold 0, sell -1, times the confidence."""
        return SIGN[self.verdict] * self.confidence


class Interval(BaseModel):
    low: float
    high: float


class Estimate(BaseModel):
    """A statistic with its bootstrap interval; `value` None when undefined (`reason` says why),
    `interval` None when it cannot be given (`interval_reason` says why)."""

    value: float | None
    n: int
    n_dates: int
    interval: Interval | None = None
    resamples_defined: int = 0
    reason: str | None = None
    interval_reason: str | None = None


class VerdictStats(BaseModel):
    """`count`: decisions with this verdict; `n`: those scored at the horizon."""

    verdict: Verdict
    count: int
    n: int
    mean: float | None
    median: float | None


class HitRate(BaseModel):
    """The share of a verdict's scored decisions that went its way, beside the base rate of the
    same outcome over every scored decision on the dates that verdict was given."""

    verdict: Verdict
    outcome: str
    hits: int
    n: int
    rate: float | None
    base_hits: int
    base_n: int
    base_rate: float | None
    n_dates: int


class CalibrationBucket(BaseModel):
    low: float
    high: float
    includes_high: bool
    n: int
    hits: int
    rate: float | None
    mean_confidence: float | None


class LongShortPoint(BaseModel):
    as_of: date
    spread: float
    n_buy: int
    n_sell: int
    cumulative: float


class Contamination(BaseModel):
    """Decisions dated before the model's training cutoff: possibly remembered, not predicted."""

    cutoff: date
    flagged: int
    n: int
    flagged_scored: int


class SignalVerdict(StrEnum):
    SIGNAL = "evidence_of_signal"
    INVERTED = "evidence_of_inverted_signal"
    NO_SIGNAL = "no_evidence_of_signal"
    INSUFFICIENT = "insufficient_data"


class Bootstrap(BaseModel):
    resamples: int
    seed: int
    level: float = LEVEL
    method: str = "percentile; resamples decision dates with replacement"


class TrackRecord(BaseModel):
    """Every statistic of one horizon; JSON-serialisable with `model_dump(mode="json")`."""

    horizon: int
    n_decisions: int
    n_scored: int
    n_dates: int
    first_as_of: date | None
    last_as_of: date | None
    by_verdict: list[VerdictStats]
    hit_rates: list[HitRate]
    ic: Estimate
    long_short: Estimate
    calibration: list[CalibrationBucket]
    long_short_by_date: list[LongShortPoint]
    bootstrap: Bootstrap
    contamination: Contamination | None
    verdict: SignalVerdict
    verdict_text: str
    rule: str = VERDICT_RULE


# -- forward excess return -------------------------------------------------------------------


class Closes(Protocol):
    """Anything with daily `dates` (ascending) and `closes` of the same length: a PriceSeries."""

    @property
    def dates(self) -> Sequence[date]: ...

    @property
    def closes(self) -> Sequence[float]: ...


SeriesLike = Closes | tuple[Sequence[date], Sequence[float]]


def _unpack(series: SeriesLike) -> tuple[Sequence[date], Sequence[float]]:
    dates, closes = series if isinstance(series, tuple) else (series.dates, series.closes)
    if len(dates) != len(closes):
        raise ValueError("dates and closes must have the same length")
    return dates, closes


def forward_excess_return(
    closes: SeriesLike, bench: SeriesLike, as_of: date, horizon: int
) -> float | None:
    """The ticker's return over `horizon` of its trading days after the last one on or before
    `as_of`, minus the benchmark's over the same two dates; None where the data ends or the
    benchmark lacks either date (never a nearby day)."""
    if horizon < 1:
        raise ValueError("horizon must be at least one trading day")
    dates, prices = _unpack(closes)
    bench_by_day = dict(zip(*_unpack(bench), strict=True))
    t = _last_on_or_before(dates, as_of)
    if t is None or t + horizon >= len(dates):
        return None
    start, end = dates[t], dates[t + horizon]
    if start not in bench_by_day or end not in bench_by_day:
        return None
    p0, p1, b0, b1 = prices[t], prices[t + horizon], bench_by_day[start], bench_by_day[end]
    if not all(math.isfinite(v) and v > 0 for v in (p0, p1, b0, b1)):
        return None
    return (p1 / p0 - 1) - (b1 / b0 - 1)


def _last_on_or_before(dates: Sequence[date], as_of: date) -> int | None:
    low, high = 0, len(dates)  # bisect by hand: Sequence[date] has no key support to rely on
    while low < high:
        mid = (low + high) // 2
        if dates[mid] <= as_of:
            low = mid + 1
        else:
            high = mid
    return low - 1 if low > 0 else None


# -- the statistics --------------------------------------------------------------------------


Row = tuple[Verdict, float, float]  # verdict, score, excess


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _ic(rows: Sequence[Row]) -> tuple[float | None, str | None]:
    if len(rows) < MIN_IC_DECISIONS:
        return None, f"fewer than {MIN_IC_DECISIONS} scored decisions"
    verdicts = {v for v, _, _ in rows}
    if len(verdicts) == 1:
        only = next(iter(verdicts))
        return None, f"every scored verdict is {only.value}, so the score ranks nothing"
    scores = [s for _, s, _ in rows]
    excess = [e for _, _, e in rows]
    if len(set(scores)) == 1:
        return None, "the signed score is the same for every decision"
    if len(set(excess)) == 1:
        return None, "every forward excess return is the same"
    return _pearson(average_ranks(scores), average_ranks(excess)), None


def _spread(rows: Sequence[Row]) -> tuple[float | None, str | None]:
    buys = [e for v, _, e in rows if v is Verdict.BUY]
    sells = [e for v, _, e in rows if v is Verdict.SELL]
    if not buys or not sells:
        missing = "buy or sell" if not buys and not sells else "buy" if not buys else "sell"
        return None, f"no scored {missing} verdict"
    return sum(buys) / len(buys) - sum(sells) / len(sells), None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between order statistics."""
    position = (len(sorted_values) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


def _bootstrap(
    by_date: list[list[Row]], resamples: int, seed: int
) -> tuple[list[float], list[float]]:
    """The defined IC and spread values over date resamples, in draw order."""
    rng = random.Random(seed)
    k = len(by_date)
    ics: list[float] = []
    spreads: list[float] = []
    for _ in range(resamples):
        picks = [rng.randrange(k) for _ in range(k)]
        rows = [row for i in picks for row in by_date[i]]
        ic, _ = _ic(rows)
        spread, _ = _spread(rows)
        if ic is not None:
            ics.append(ic)
        if spread is not None:
            spreads.append(spread)
    return ics, spreads


def _estimate(
    value: float | None, reason: str | None, n: int, n_dates: int,
    draws: list[float] | None, resamples: int,
) -> Estimate:
    estimate = Estimate(value=value, n=n, n_dates=n_dates, reason=reason)
    if value is None:
        estimate.interval_reason = "the statistic itself is undefined"
        return estimate
    if draws is None:
        estimate.interval_reason = (
            f"fewer than {MIN_BOOTSTRAP_DATES} decision dates to resample")
        return estimate
    estimate.resamples_defined = len(draws)
    if len(draws) < MIN_DEFINED_SHARE * resamples:
        estimate.interval_reason = (
            f"only {len(draws)} of {resamples} resamples defined it "
            f"(at least {MIN_DEFINED_SHARE:.0%} needed)")
        return estimate
    tail = (1 - LEVEL) / 2 * 100
    ordered = sorted(draws)
    estimate.interval = Interval(low=percentile(ordered, tail),
                                 high=percentile(ordered, 100 - tail))
    return estimate


def _by_verdict(decisions: Sequence[Decision], scored: Sequence[Decision], key: str,
                ) -> list[VerdictStats]:
    stats = []
    for verdict in Verdict:
        values = [_excess(d, key) for d in scored if d.verdict is verdict]
        stats.append(VerdictStats(
            verdict=verdict,
            count=sum(1 for d in decisions if d.verdict is verdict),
            n=len(values),
            mean=statistics.fmean(values) if values else None,
            median=statistics.median(values) if values else None,
        ))
    return stats


def _hit(verdict: Verdict, excess: float) -> bool:
    return excess > 0 if verdict is Verdict.BUY else excess < 0


def _hit_rates(scored: Sequence[Decision], key: str) -> list[HitRate]:
    rates = []
    for verdict, outcome in ((Verdict.BUY, "excess > 0"), (Verdict.SELL, "excess < 0")):
        own = [d for d in scored if d.verdict is verdict]
        days = {d.as_of for d in own}
        base = [d for d in scored if d.as_of in days]
        hits = sum(_hit(verdict, _excess(d, key)) for d in own)
        base_hits = sum(_hit(verdict, _excess(d, key)) for d in base)
        rates.append(HitRate(
            verdict=verdict, outcome=outcome, hits=hits, n=len(own),
            rate=hits / len(own) if own else None,
            base_hits=base_hits, base_n=len(base),
            base_rate=base_hits / len(base) if base else None,
            n_dates=len(days),
        ))
    return rates


def calibration_bucket(confidence: float) -> int:
    """The index of the bucket `confidence` falls in; the last bucket includes 1."""
    for index in range(len(CALIBRATION_EDGES) - 2):
        if confidence < CALIBRATION_EDGES[index + 1]:
            return index
    return len(CALIBRATION_EDGES) - 2


def _calibration(scored: Sequence[Decision], key: str) -> list[CalibrationBucket]:
    calls = [d for d in scored if d.verdict is not Verdict.HOLD]
    buckets = []
    last = len(CALIBRATION_EDGES) - 2
    for index in range(last + 1):
        inside = [d for d in calls if calibration_bucket(d.confidence) == index]
        hits = sum(_hit(d.verdict, _excess(d, key)) for d in inside)
        buckets.append(CalibrationBucket(
            low=CALIBRATION_EDGES[index], high=CALIBRATION_EDGES[index + 1],
            includes_high=index == last, n=len(inside), hits=hits,
            rate=hits / len(inside) if inside else None,
            mean_confidence=statistics.fmean(d.confidence for d in inside) if inside else None,
        ))
    return buckets


def _long_short_by_date(by_date: dict[date, list[Row]]) -> list[LongShortPoint]:
    points = []
    running = 0.0
    for day in sorted(by_date):
        rows = by_date[day]
        spread, _ = _spread(rows)
        if spread is None:
            continue
        running += spread
        points.append(LongShortPoint(
            as_of=day, spread=spread, cumulative=running,
            n_buy=sum(1 for v, _, _ in rows if v is Verdict.BUY),
            n_sell=sum(1 for v, _, _ in rows if v is Verdict.SELL),
        ))
    return points


def _excess(decision: Decision, key: str) -> float:
    value = decision.forward_excess_return.get(key)
    assert value is not None  # only called on scored decisions
    return value


def _contamination(decisions: Sequence[Decision], scored: Sequence[Decision],
                   cutoff: date | None) -> Contamination | None:
    if cutoff is None:
        return None
    return Contamination(
        cutoff=cutoff, n=len(decisions),
        flagged=sum(1 for d in decisions if d.as_of < cutoff),
        flagged_scored=sum(1 for d in scored if d.as_of < cutoff),
    )


def format_ic(value: float | None) -> str:
    """An IC as shown: signed, three decimals, no "-0.000"."""
    if value is None:
        return MISSING
    return "0.000" if round(value, 3) == 0 else f"{value:+.3f}"


def format_excess(value: float | None) -> str:
    """A return or spread as shown: a signed percent, one decimal (the memo's rule)."""
    return format_value(value, "fraction", metric_id="excess_return_forward")


def _interval_text(estimate: Estimate, name: str, show: Callable[[float | None], str]) -> str:
    if estimate.value is None:
        return f"the {name} is undefined ({estimate.reason})"
    if estimate.interval is None:
        return (f"the {name} is {show(estimate.value)} with no interval "
                f"({estimate.interval_reason})")
    return (f"the {name} is {show(estimate.value)} ({LEVEL:.0%} interval "
            f"{show(estimate.interval.low)} to {show(estimate.interval.high)})")


def judge(
    n_scored: int, n_dates: int, n_buy: int, n_sell: int, ic: Estimate, long_short: Estimate,
    horizon: int, contamination: Contamination | None = None,
) -> tuple[SignalVerdict, str]:
    """The verdict and its sentence, by `VERDICT_RULE`."""
    facts = (f"{_interval_text(ic, 'IC', format_ic)}; "
             f"{_interval_text(long_short, 'long-short spread', format_excess)} "
             f"(over {n_scored} scored decisions on {n_dates} dates, {horizon} trading days)")
    caveat = ""
    if contamination is not None and contamination.flagged_scored:
        caveat = (f" Caution: {contamination.flagged_scored} of these decisions are dated before "
                  f"the model's training cutoff {contamination.cutoff.isoformat()} and may "
                  "reflect its memory of what happened next.")
    short = []
    if n_scored < MIN_VERDICT_DECISIONS:
        short.append(f"{n_scored} scored decisions (at least {MIN_VERDICT_DECISIONS} needed)")
    if n_dates < MIN_VERDICT_DATES:
        short.append(f"{n_dates} dates (at least {MIN_VERDICT_DATES} needed)")
    for side, count in (("buys", n_buy), ("sells", n_sell)):
        if count < MIN_VERDICT_PER_SIDE:
            short.append(f"{count} scored {side} (at least {MIN_VERDICT_PER_SIDE} needed)")
    if short:
        return SignalVerdict.INSUFFICIENT, (
            "No evidence of signal: too little data to tell, " + "; ".join(short) + ". "
            + facts[0].upper() + facts[1:] + "." + caveat)
    a, b = ic.interval, long_short.interval
    if a is not None and b is not None and a.low > 0 and b.low > 0:
        return SignalVerdict.SIGNAL, (
            "Evidence of signal: both intervals lie above 0; " + facts + "." + caveat)
    if a is not None and b is not None and a.high < 0 and b.high < 0:
        return SignalVerdict.INVERTED, (
            "Evidence of an inverted signal: the verdicts point the wrong way, both intervals "
            "lie below 0; " + facts + "." + caveat)
    return SignalVerdict.NO_SIGNAL, (
        "No evidence of signal: the intervals do not both exclude 0 on the same side; "
        + facts + "." + caveat)


def summarise(
    decisions: Iterable[Decision],
    horizon: int,
    *,
    seed: int = BOOTSTRAP_SEED,
    resamples: int = RESAMPLES,
    cutoff: date | None = None,
) -> TrackRecord:
    """Every statistic of the track record at one horizon (in trading days)."""
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    key = str(horizon)
    every = sorted(decisions, key=lambda d: (d.as_of, d.ticker, d.job_id))
    scored = [d for d in every if d.forward_excess_return.get(key) is not None]
    grouped: dict[date, list[Row]] = {}
    for d in scored:
        grouped.setdefault(d.as_of, []).append((d.verdict, d.score, _excess(d, key)))
    rows = [row for day in sorted(grouped) for row in grouped[day]]
    n_dates = len(grouped)

    ic_value, ic_reason = _ic(rows)
    spread_value, spread_reason = _spread(rows)
    ic_draws: list[float] | None = None
    spread_draws: list[float] | None = None
    if n_dates >= MIN_BOOTSTRAP_DATES and (ic_value is not None or spread_value is not None):
        ic_draws, spread_draws = _bootstrap([grouped[d] for d in sorted(grouped)],
                                            resamples, seed)
    ic = _estimate(ic_value, ic_reason, len(rows), n_dates, ic_draws, resamples)
    n_buy = sum(1 for v, _, _ in rows if v is Verdict.BUY)
    n_sell = sum(1 for v, _, _ in rows if v is Verdict.SELL)
    spread = _estimate(spread_value, spread_reason, n_buy + n_sell,
                       len({d.as_of for d in scored if d.verdict is not Verdict.HOLD}),
                       spread_draws, resamples)
    contamination = _contamination(every, scored, cutoff)
    verdict, text = judge(len(rows), n_dates, n_buy, n_sell, ic, spread, horizon, contamination)
    return TrackRecord(
        horizon=horizon,
        n_decisions=len(every),
        n_scored=len(rows),
        n_dates=n_dates,
        first_as_of=min(grouped) if grouped else None,
        last_as_of=max(grouped) if grouped else None,
        by_verdict=_by_verdict(every, scored, key),
        hit_rates=_hit_rates(scored, key),
        ic=ic,
        long_short=spread,
        calibration=_calibration(scored, key),
        long_short_by_date=_long_short_by_date(grouped),
        bootstrap=Bootstrap(resamples=resamples, seed=seed),
        contamination=contamination,
        verdict=verdict,
        verdict_text=text,
    )
