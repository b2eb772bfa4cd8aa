"""The Markdown the benchmarks' results are written in: numbers as RESULTS.md shows them
(a dash for a missing figure), ratios, tables, the "met" column of the targets."""

from __future__ import annotations

import math


def fmt(value, digits: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isinf(value):
            return "∞"
        return f"{value:,.{digits}f}{unit}"
    return str(value)


def ratio(a, b) -> str:
    try:
        if not a or not b or math.isnan(a) or math.isnan(b):
            return "–"
    except TypeError:
        return "–"
    return f"{a / b:.2f}×"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ok(flag) -> str:
    return "yes" if flag else "**no**"
