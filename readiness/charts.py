"""Score charts as inline SVG, computed on the server: pure code, no Django imports.

Inputs are (when, score) pairs with score 0-100; the output is an SVG string made only of
numbers and fixed text, so it is safe to insert into a page as is.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

GRADE_LINES = ((90, "A"), (80, "B"), (70, "C"), (60, "D"))


def _x(when: datetime, start: datetime, span: float, left: float, width: float) -> float:
    return left + width * ((when - start).total_seconds() / span if span else 1.0)


def _y(score: float, top: float, height: float) -> float:
    return top + height * (1 - max(0.0, min(100.0, score)) / 100)


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))


def sparkline(
    points: Sequence[tuple[datetime, int]],
    *,
    now: datetime,
    days: int = 30,
    width: int = 120,
    height: int = 28,
) -> str:
    """A small line of the score over the last DAYS days (empty frame when no points)."""
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    pad = 2.0
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    shown = sorted((p for p in points if start <= p[0] <= now), key=lambda p: p[0])
    coords = [(_x(w, start, span, pad, inner_w), _y(s, pad, inner_h)) for w, s in shown]
    label = (
        f"Score over {days} days: no data"
        if not shown
        else f"Score over {days} days: from {shown[0][1]} to {shown[-1][1]}, "
        f"low {min(s for _, s in shown)}, high {max(s for _, s in shown)}"
    )
    parts = [
        f'<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
        f'<line x1="{pad}" y1="{_y(70, pad, inner_h):.1f}" x2="{width - pad}" '
        f'y2="{_y(70, pad, inner_h):.1f}" class="spark-grid"/>',
    ]
    if len(coords) == 1:
        x, y = coords[0]
        coords = [(pad, y), (x, y)]
    if coords:
        parts.append(f'<path d="{_path(coords)}" class="spark-line" fill="none"/>')
        x, y = coords[-1]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" class="spark-dot"/>')
    parts.append("</svg>")
    return "".join(parts)


def history_chart(
    points: Sequence[tuple[datetime, int]],
    *,
    now: datetime,
    days: int = 30,
    width: int = 640,
    height: int = 200,
) -> str:
    """A score history chart with grade bands and day ticks, for the cluster page."""
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    left, right, top, bottom = 34.0, 8.0, 8.0, 22.0
    inner_w, inner_h = width - left - right, height - top - bottom
    shown = sorted((p for p in points if start <= p[0] <= now), key=lambda p: p[0])
    parts = [
        f'<svg class="history-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="Score history over {days} days, {len(shown)} evaluations">',
        f"<title>Score history over {days} days</title>",
    ]
    for value, grade in GRADE_LINES:
        y = _y(value, top, inner_h)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="chart-grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="chart-label">'
            f"{value} {grade}</text>"
        )
    step = max(1, days // 6)
    for offset in range(0, days + 1, step):
        when = start + timedelta(days=offset)
        x = _x(when, start, span, left, inner_w)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" class="chart-label">'
            f"{when:%d %b}</text>"
        )
    coords = [(_x(w, start, span, left, inner_w), _y(s, top, inner_h)) for w, s in shown]
    if len(coords) == 1:
        coords = [(left, coords[0][1]), coords[0]]
    if coords:
        parts.append(f'<path d="{_path(coords)}" class="chart-line" fill="none"/>')
    else:
        parts.append(
            f'<text x="{left + inner_w / 2:.1f}" y="{top + inner_h / 2:.1f}" '
            'text-anchor="middle" class="chart-label">No evaluations yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
