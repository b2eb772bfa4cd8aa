"""Bar charts as inline SVG, drawn on the server: the admin dashboard works offline (no CDN,
no JavaScript), and the numbers are in the page for screen readers (<title> per bar)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28  # margins for the axis labels


def _label(value: float | int | Decimal, decimals: int) -> str:
    return number_format(value, decimal_pos=decimals, force_grouping=True)


def bar_chart(
    *,
    title: str,
    points: Sequence[tuple[date, float | int | Decimal]],
    decimals: int = 0,
    color: str = "#417690",
) -> SafeString:
    """An SVG bar chart of one value per day. Labels are escaped; the markup is ours."""
    values = [float(v or 0) for _d, v in points]
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)
    bar_w = max(step * 0.75, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="billing-chart" '
        f'style="width:100%;max-width:{WIDTH}px;height:auto">',
        f"<title>{escape(title)}</title>",
        # Axis: the maximum on top, zero at the bottom.
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#999" stroke-width="1"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" font-size="10" text-anchor="end" fill="#666">'
        f"{escape(_label(top if values and max(values) else 0, decimals))}</text>",
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="10" text-anchor="end" '
        'fill="#666">0</text>',
    ]
    for index, ((day, _value), value) in enumerate(zip(points, values, strict=True)):
        height = plot_h * value / top
        x = LEFT + index * step + (step - bar_w) / 2
        y = TOP + plot_h - height
        tip = f"{day:%d/%m}: {_label(value, decimals)}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
            f'fill="{escape(color)}"><title>{escape(tip)}</title></rect>'
        )
        # A date under every 5th bar and the last one, so 30 labels never overlap.
        if index % 5 == 0 or index == len(points) - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" font-size="10" '
                f'text-anchor="middle" fill="#666">{day:%d/%m}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)
