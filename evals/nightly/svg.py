"""Trend plots as inline SVG, drawn by hand so the HTML report needs no plotting library, no
script and no network: one metric across the runs of a lineage, each point with its 95%
interval as a vertical bar, accepted runs filled, the current run ringed, the threshold dashed.

    value ▲        ┊ 95% CI bar       ● accepted run   ○ other run   ◎ this run
          │   ●─────○──────●───◎
     min  ┼ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─   threshold
          └──────────────────────▶ runs, oldest first (x is the run's index, not its date)

Every text that reaches the SVG goes through html.escape; hovering a point shows its run id,
value and interval (an SVG <title>, no JavaScript).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from evals.nightly.history import TrendPoint

WIDTH, HEIGHT = 420, 170
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 14, 24, 30
LINE, BAND, ACCEPTED, CURRENT, LIMIT = "#2f6db5", "#9bb8dd", "#2f6db5", "#c2410c", "#b91c1c"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _y_range(points: Sequence[TrendPoint], limits: Sequence[float]) -> tuple[float, float]:
    ys = [p.value for p in points] + [v for p in points for v in (p.low, p.high) if v is not None] + list(limits)
    low, high = min(ys), max(ys)
    if math.isclose(low, high):
        span = abs(low) * 0.1 or 0.1
        return low - span, high + span
    pad = (high - low) * 0.08
    return low - pad, high + pad


def trend_svg(points: Sequence[TrendPoint], *, title: str, current_run: str = "",
              minimum: float | None = None, maximum: float | None = None) -> str:
    """One metric's history as an <svg> element (a short note when there is nothing to plot)."""
    if not points:
        return f'<p class="muted">{escape(title)}: no history yet.</p>'
    limits = [v for v in (minimum, maximum) if v is not None]
    y0, y1 = _y_range(points, limits)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(i: int) -> float:
        return PAD_LEFT + (plot_w / 2 if len(points) == 1 else plot_w * i / (len(points) - 1))

    def y(v: float) -> float:
        return PAD_TOP + plot_h * (1 - (v - y0) / (y1 - y0))

    parts = [f'<svg class="trend" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)} across runs">',
             f'<title>{escape(title)} across runs</title>',
             f'<text x="{PAD_LEFT}" y="15" font-size="12" font-weight="600">{escape(title)}</text>',
             f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" stroke="#999"/>',
             f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{PAD_LEFT + plot_w}" y2="{PAD_TOP + plot_h}" '
             'stroke="#999"/>']
    for tick in (y0, (y0 + y1) / 2, y1):
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#555">{escape(_fmt(tick))}</text>')
    for label, limit in (("min", minimum), ("max", maximum)):
        if limit is not None:
            parts.append(f'<line x1="{PAD_LEFT}" y1="{y(limit):.1f}" x2="{PAD_LEFT + plot_w}" y2="{y(limit):.1f}" '
                         f'stroke="{LIMIT}" stroke-dasharray="4 3"><title>threshold {label} {escape(_fmt(limit))}'
                         '</title></line>')
    for i, p in enumerate(points):  # interval bars under the line
        if p.low is not None and p.high is not None:
            parts.append(f'<line x1="{x(i):.1f}" y1="{y(p.low):.1f}" x2="{x(i):.1f}" y2="{y(p.high):.1f}" '
                         f'stroke="{BAND}" stroke-width="3"/>')
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
    for i, p in enumerate(points):
        ci = f" [{_fmt(p.low)}, {_fmt(p.high)}]" if p.low is not None and p.high is not None else ""
        tip = f"{p.run_id}: {_fmt(p.value)}{ci} n={p.n}{' (accepted)' if p.accepted else ''}"
        is_current = p.run_id == current_run
        fill = ACCEPTED if p.accepted else "#fff"
        stroke = CURRENT if is_current else LINE
        radius = 5 if is_current else 3.5
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="{radius}" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="{2 if is_current else 1.5}"><title>{escape(tip)}</title></circle>')
    first, last = points[0].started[:10], points[-1].started[:10]
    parts.append(f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}" font-size="10" fill="#555">{escape(first)}</text>')
    parts.append(f'<text x="{PAD_LEFT + plot_w}" y="{HEIGHT - 8}" font-size="10" fill="#555" text-anchor="end">'
                 f'{escape(last)} ({len(points)} run{"s" if len(points) != 1 else ""})</text>')
    parts.append("</svg>")
    return "\n".join(parts)
