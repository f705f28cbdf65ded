"""A bar chart drawn on the server as SVG: no JavaScript, no library, escapes everything."""

from __future__ import annotations

from datetime import date

from django.utils.html import escape

from billing.money import micros_to_usd

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 56, 24, 12


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 10_000  # one cent, so an empty chart still has an axis
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def spend_chart_svg(series: list[tuple[date, int, int]]) -> str:
    """Spend per day; one bar per day, each with a tooltip giving the exact figures."""
    top = _nice_max(max((spend for _, spend, _ in series), default=0))
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(series), 1)
    bar_w = max(slot * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" aria-label="Spend per day" class="chart">'
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        label = f"${micros_to_usd(int(top * fraction)).normalize():f}"
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
    label_every = max(len(series) // 8, 1)
    for index, (day, spend, requests) in enumerate(series):
        x = PAD_LEFT + index * slot + (slot - bar_w) / 2
        h = plot_h * spend / top if top else 0
        y = PAD_TOP + plot_h - h
        tip = f"{day.isoformat()}: ${micros_to_usd(spend)} over {requests} requests"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0):.1f}" '
            f'class="bar"><title>{escape(tip)}</title></rect>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                f"{day.strftime('%b %d')}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
