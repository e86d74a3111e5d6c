"""Small statistics: percentiles, a least-squares line, a bootstrap interval of a ratio."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through the points."""
    n = len(xs)
    if n < 2:
        return math.nan, ys[0] if ys else math.nan
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else math.nan
    return slope, mean_y - slope * mean_x


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def rounded(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def ratio_interval(
    loaded: Sequence[float], idle: Sequence[float], q: float = 95, rounds: int = 2000
) -> tuple[float, float]:
    """A 90% bootstrap interval of percentile(loaded, q) / percentile(idle, q): both sample
    sets resampled with replacement (fixed seed, so a run's numbers can be recomputed)."""
    if not loaded or not idle:
        return math.nan, math.nan
    draw = random.Random(7)
    ratios = []
    for _ in range(rounds):
        a = [draw.choice(loaded) for _ in loaded]
        b = [draw.choice(idle) for _ in idle]
        ratios.append(percentile(a, q) / percentile(b, q))
    return percentile(ratios, 5), percentile(ratios, 95)
