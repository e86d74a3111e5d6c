"""How a metric's number is shown: one rule for every memo table cell and every generated sentence.

    unit        shown as                                   example
    currency    `$` for USD, the code after otherwise      $187.42 / 187.42 EUR / -$1.20
                1M and up get a suffix (M, B, T)           $2.91T / $512.30B / $1.20M
                no currency known: the bare number          187.42
    multiple    one decimal and `x`                        28.4x
    fraction    percent, one decimal                       12.3%
                signed for returns and excess returns      +12.3% / -4.0%
    number      two decimals                               1.23
    missing     `n/a`                                      n/a

Zero never carries a sign (no `-0.0%`), and nothing here depends on the locale or the clock.
"""

from __future__ import annotations

from shared.domain.evidence import Metric, MetricUnit

MISSING = "n/a"

_SUFFIXES: tuple[tuple[float, str], ...] = ((1e12, "T"), (1e9, "B"), (1e6, "M"))
_SIGNED_PREFIXES = ("return_", "spy_return_", "excess_return_")


def is_signed(metric_id: str) -> bool:
    """Returns and excess returns show an explicit `+`: their sign is the point of the number."""
    return metric_id.startswith(_SIGNED_PREFIXES)


def format_metric(metric: Metric, currency: str | None) -> str:
    """The memo's text for one metric; `currency` is the quote currency of the ticker, if known."""
    return format_value(metric.value, metric.unit, metric_id=metric.id, currency=currency)


def format_value(
    value: float | None,
    unit: MetricUnit,
    *,
    metric_id: str = "",
    currency: str | None = None,
) -> str:
    """The same rule as `format_metric` for a bare value, e.g. a threshold in a sentence."""
    if value is None:
        return MISSING
    if unit == "currency":
        return _money(value, currency)
    if unit == "multiple":
        return f"{_fixed(value, 1)}x"
    if unit == "fraction":
        return _percent(value, signed=is_signed(metric_id))
    return _fixed(value, 2)


def _fixed(value: float, places: int) -> str:
    if round(value, places) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:,.{places}f}"


def _percent(fraction: float, *, signed: bool) -> str:
    percent = round(fraction * 100, 1)
    if percent == 0:
        return "0.0%"
    sign = "+" if signed and percent > 0 else ""
    return f"{sign}{percent:,.1f}%"


def _money(value: float, currency: str | None) -> str:
    body = _scaled(abs(value))
    sign = "-" if value < 0 and any(ch in "123456789" for ch in body) else ""
    code = (currency or "").strip().upper()
    if code == "USD":
        return f"{sign}${body}"
    if code:
        return f"{sign}{body} {code}"
    return f"{sign}{body}"


def _scaled(magnitude: float) -> str:
    """Two decimals; from one million up with the largest suffix that keeps the number >= 1."""
    for index, (factor, suffix) in enumerate(_SUFFIXES):
        if magnitude >= factor:
            scaled = round(magnitude / factor, 2)
            if scaled >= 1000 and index > 0:  # 999.999B rounds to 1000.00B: show 1.00T
                factor, suffix = _SUFFIXES[index - 1]
                scaled = round(magnitude / factor, 2)
            return f"{scaled:,.2f}{suffix}"
    if round(magnitude, 2) >= 1e6:  # 999,999.999 rounds up to a million
        return f"{round(magnitude / 1e6, 2):,.2f}M"
    return f"{round(magnitude, 2):,.2f}"
