"""Read a chart SVG back: each polyline's points turned into values through the drawn y scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class DrawnSeries:
    symbol: str
    xs: list[float]
    values: list[float]


def parse_chart(svg: str) -> tuple[ET.Element, dict[str, DrawnSeries]]:
    """The root element and, by symbol, the values the polylines draw (to within rounding)."""
    root = ET.fromstring(svg)
    series: dict[str, DrawnSeries] = {}
    domain = root.get("data-y-domain")
    plot = root.get("data-plot")
    if domain is None or plot is None:
        return root, series
    low, high = (float(v) for v in domain.split())
    _, top, _, height = (float(v) for v in plot.split())
    for line in root.iter(f"{SVG_NS}polyline"):
        pairs = [p.split(",") for p in (line.get("points") or "").split()]
        xs = [float(x) for x, _ in pairs]
        values = [high - (float(y) - top) / height * (high - low) for _, y in pairs]
        series[line.get("data-symbol") or ""] = DrawnSeries(line.get("data-symbol") or "", xs,
                                                            values)
    return root, series


def texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(f"{SVG_NS}text")]
