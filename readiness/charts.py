"""Score charts as inline SVG, computed on the server: pure code, no Django imports.

Inputs are (when, score) pairs with score 0-100; the output is an SVG string made of numbers,
fixed text and the escaped labels of the history chart's marks, so it is safe to insert into a
page as is.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from operator import itemgetter

GRADE_LINES = ((90, "A"), (80, "B"), (70, "C"), (60, "D"))
GRADE_BANDS = (("A", 90, 100), ("B", 80, 90), ("C", 70, 80), ("D", 60, 70), ("F", 0, 60))


@dataclass(frozen=True)
class Mark:
    """Something that happened on the history chart: a waiver created or ended (an instant,
    END None) or a maintenance window (START to END); LABEL is shown on hover, escaped."""

    kind: str  # waiver | maintenance
    start: datetime
    end: datetime | None
    label: str


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
    return Sparklines(now=now, days=days, width=width, height=height).draw(points)


class Sparklines:
    """Draws many sparklines on the same scale (the fleet's), computing each distinct time's
    x and each score's y once: a fleet of clusters shares the same few days and scores."""

    def __init__(self, *, now: datetime, days: int = 30, width: int = 120, height: int = 28):
        self.now, self.days, self.width, self.height = now, days, width, height
        self.start = now - timedelta(days=days)
        self.span = (now - self.start).total_seconds()
        self.pad = 2.0
        self.inner_w, self.inner_h = width - 2 * self.pad, height - 2 * self.pad
        self._xs: dict[datetime, str] = {}  # formatted coordinates, by time and by score
        self._ys: dict[int, str] = {}
        self._xy: dict[tuple[datetime, int], str] = {}  # "x,y" by point
        self._inside: dict[int, bool] = {}  # draw_days: by day number, whether it is drawn
        self._day_xy: dict[tuple[int, int], str] = {}  # draw_days: "x,y" by (day, score)
        grid = f"{_y(70, self.pad, self.inner_h):.1f}"
        self._head = (
            f'<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="'
        )
        self._grid = (
            f'<line x1="{self.pad}" y1="{grid}" x2="{width - self.pad}" y2="{grid}" '
            'class="spark-grid"/>'
        )

    def _x(self, when: datetime) -> str:
        x = self._xs.get(when)
        if x is None:
            x = self._xs[when] = f"{_x(when, self.start, self.span, self.pad, self.inner_w):.1f}"
        return x

    def _y(self, score: int) -> str:
        y = self._ys.get(score)
        if y is None:
            y = self._ys[score] = f"{_y(score, self.pad, self.inner_h):.1f}"
        return y

    def _point(self, point: tuple[datetime, int]) -> str:
        """ "x,y" of POINT, made once per distinct (time, score): a fleet's sparklines share
        most of them (the same days, scores 0-100)."""
        xy = self._xy[point] = f"{self._x(point[0])},{self._y(point[1])}"
        return xy

    def draw(self, points: Sequence[tuple[datetime, int]]) -> str:
        """One sparkline of (when, score) POINTS; those outside the range are left out."""
        start, now = self.start, self.now
        shown = [point for point in points if start <= point[0] <= now]
        shown.sort(key=itemgetter(0))
        xy = self._xy
        coords = [xy.get(point) or self._point(point) for point in shown]
        return self._svg([score for _, score in shown], coords)

    def draw_days(self, days: Sequence[int], lows: Sequence[int], when) -> str:
        """draw() of the points (WHEN[day], low) of DAYS and LOWS (day numbers and scores, as
        readiness.selectors.daily_lows gives them; WHEN the same mapping for every call on
        this Sparklines), without making them: a fleet's 60,000 (time, score) pairs cost more
        to build and compare than the drawing. Days out of order are drawn by draw()."""
        if any(a >= b for a, b in zip(days, days[1:], strict=False)):
            return self.draw(list(zip(map(when.__getitem__, days), lows, strict=True)))
        inside, xy = self._inside, self._day_xy
        scores, coords = [], []
        for day, low in zip(days, lows, strict=True):
            shown = inside.get(day)
            if shown is None:
                shown = inside[day] = self.start <= when[day] <= self.now
            if shown:
                scores.append(low)
                point = xy.get((day, low))
                if point is None:
                    point = xy[day, low] = f"{self._x(when[day])},{self._y(low)}"
                coords.append(point)
        return self._svg(scores, coords)

    def _svg(self, scores: list[int], coords: list[str]) -> str:
        """The sparkline of SCORES drawn at COORDS ("x,y" each)."""
        days = self.days
        if scores:
            label = (
                f"Score over {days} days: from {scores[0]} to {scores[-1]}, "
                f"low {min(scores)}, high {max(scores)}"
            )
        else:
            label = f"Score over {days} days: no data"
        parts = [self._head, label, '">', f"<title>{label}</title>", self._grid]
        if len(coords) == 1:
            coords.insert(0, f"{self.pad:.1f},{self._y(scores[0])}")
        if coords:
            parts.append(f'<path d="M{" L".join(coords)}" class="spark-line" fill="none"/>')
            x, y = coords[-1].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2" class="spark-dot"/>')
        parts.append("</svg>")
        return "".join(parts)


def history_chart(
    points: Sequence[tuple[datetime, int]],
    *,
    now: datetime,
    days: int = 30,
    width: int = 640,
    height: int = 200,
    marks: Sequence[Mark] = (),
) -> str:
    """A score history chart for the cluster page: the grade bands (A to F) shaded, day ticks,
    and MARKS: a dashed line where a waiver was created or ended, a band over a maintenance
    window (each with its label as a tooltip)."""
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    left, right, top, bottom = 34.0, 8.0, 8.0, 22.0
    inner_w, inner_h = width - left - right, height - top - bottom
    shown = sorted((p for p in points if start <= p[0] <= now), key=lambda p: p[0])
    marks = [m for m in marks if m.start <= now and (m.end or m.start) >= start]
    parts = [
        f'<svg class="history-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="Score history over {days} days, {len(shown)} evaluations, '
        f'{len(marks)} waiver or maintenance marks">',
        f"<title>Score history over {days} days</title>",
    ]
    for grade, low, high in GRADE_BANDS:
        y_top, y_low = _y(high, top, inner_h), _y(low, top, inner_h)
        parts.append(
            f'<rect x="{left}" y="{y_top:.1f}" width="{inner_w:.1f}" height="{y_low - y_top:.1f}" '
            f'class="chart-band band-{grade}"/>'
        )
    for mark in marks:
        x0 = _x(max(mark.start, start), start, span, left, inner_w)
        label = escape(mark.label)
        if mark.end is None:
            parts.append(
                f'<g class="chart-mark mark-{escape(mark.kind)}"><title>{label}</title>'
                f'<line x1="{x0:.1f}" y1="{top}" x2="{x0:.1f}" y2="{top + inner_h:.1f}"/>'
                f'<circle cx="{x0:.1f}" cy="{top + 3:.1f}" r="3"/></g>'
            )
        else:
            x1 = _x(min(mark.end, now), start, span, left, inner_w)
            parts.append(
                f'<g class="chart-mark mark-{escape(mark.kind)}"><title>{label}</title>'
                f'<rect x="{x0:.1f}" y="{top}" width="{max(2.0, x1 - x0):.1f}" '
                f'height="{inner_h:.1f}"/></g>'
            )
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
