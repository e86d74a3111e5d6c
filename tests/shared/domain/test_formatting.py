"""shared.domain.formatting: one display rule per unit, table-driven."""

from __future__ import annotations

import pytest

from shared.domain.evidence import Metric, MetricUnit
from shared.domain.formatting import MISSING, format_metric, format_value, is_signed


def _metric(metric_id: str, unit: MetricUnit, value: float | None) -> Metric:
    reason = None if value is not None else "not reported"
    return Metric(
        id=metric_id, label=metric_id, unit=unit, value=value, source="test", missing_reason=reason
    )


CASES: list[tuple[str, MetricUnit, float | None, str | None, str]] = [
    # currency
    ("price", "currency", 187.42, "USD", "$187.42"),
    ("price", "currency", 187.42, "usd", "$187.42"),
    ("price", "currency", 187.42, "EUR", "187.42 EUR"),
    ("price", "currency", 187.42, None, "187.42"),
    ("price", "currency", 187.0, "USD", "$187.00"),
    ("price", "currency", 1234.5, "USD", "$1,234.50"),
    ("price", "currency", 0.004, "USD", "$0.00"),
    ("eps", "currency", -1.2, "USD", "-$1.20"),
    ("eps", "currency", -1.2, "GBP", "-1.20 GBP"),
    ("eps", "currency", -0.001, "USD", "$0.00"),
    ("market_cap", "currency", 2.91e12, "USD", "$2.91T"),
    ("market_cap", "currency", 512.3e9, "USD", "$512.30B"),
    ("market_cap", "currency", 1.2e6, "USD", "$1.20M"),
    ("market_cap", "currency", 999_999.999, "USD", "$1.00M"),
    ("market_cap", "currency", 999.999e9, "USD", "$1.00T"),
    ("market_cap", "currency", 999.999e6, "USD", "$1.00B"),
    ("market_cap", "currency", 1500e12, "USD", "$1,500.00T"),
    ("market_cap", "currency", 2.91e12, "EUR", "2.91T EUR"),
    ("week52_high", "currency", 199.62, "USD", "$199.62"),
    # multiple
    ("pe_ratio", "multiple", 28.36, None, "28.4x"),
    ("pe_ratio", "multiple", 28.4, "USD", "28.4x"),
    ("pe_ratio", "multiple", -12.04, None, "-12.0x"),
    ("pe_ratio", "multiple", -0.01, None, "0.0x"),
    # fraction, signed for returns and excess returns
    ("return_1y", "fraction", 0.123, None, "+12.3%"),
    ("return_1m", "fraction", -0.04, None, "-4.0%"),
    ("spy_return_3m", "fraction", 0.05, None, "+5.0%"),
    ("excess_return_6m", "fraction", 0.0, None, "0.0%"),
    ("excess_return_1y", "fraction", -0.0004, None, "0.0%"),
    ("excess_return_1y", "fraction", 12.5, None, "+1,250.0%"),
    # fraction, unsigned
    ("volatility_1y", "fraction", 0.123, None, "12.3%"),
    ("max_drawdown_1y", "fraction", -0.321, None, "-32.1%"),
    ("range_position_52w", "fraction", 1.0, None, "100.0%"),
    ("range_position_52w", "fraction", -0.0001, None, "0.0%"),
    # number
    ("beta", "number", 1.234, None, "1.23"),
    ("beta_1y", "number", -0.567, "USD", "-0.57"),
    ("beta_1y", "number", -0.004, None, "0.00"),
    # missing, whatever the unit
    ("price", "currency", None, "USD", MISSING),
    ("pe_ratio", "multiple", None, None, MISSING),
    ("return_1y", "fraction", None, None, MISSING),
    ("beta", "number", None, None, MISSING),
]


@pytest.mark.parametrize(("metric_id", "unit", "value", "currency", "expected"), CASES)
def test_format_metric(
    metric_id: str, unit: MetricUnit, value: float | None, currency: str | None, expected: str
) -> None:
    metric = _metric(metric_id, unit, value)
    assert format_metric(metric, currency) == expected
    assert format_metric(metric, currency) == expected  # deterministic
    assert format_value(value, unit, metric_id=metric_id, currency=currency) == expected


def test_missing_is_na() -> None:
    assert MISSING == "n/a"


@pytest.mark.parametrize(
    ("metric_id", "signed"),
    [
        ("return_1m", True),
        ("spy_return_1y", True),
        ("excess_return_3m", True),
        ("volatility_1y", False),
        ("max_drawdown_1y", False),
        ("range_position_52w", False),
    ],
)
def test_signed_ids(metric_id: str, signed: bool) -> None:
    assert is_signed(metric_id) is signed


def test_thresholds_use_the_same_rule() -> None:
    assert format_value(-0.10, "fraction") == "-10.0%"
    assert format_value(40.0, "multiple") == "40.0x"
    assert format_value(1.5, "number") == "1.50"
