"""Server-side SVG score charts: pure code, no database."""

from datetime import UTC, datetime, timedelta

from readiness.charts import history_chart, sparkline

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_it_draws_an_empty_frame_without_points():
    svg = sparkline([], now=NOW)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "no data" in svg
    assert "<path" not in svg


def test_it_draws_one_line_through_the_points_in_time_order():
    points = [(NOW - timedelta(days=1), 80), (NOW - timedelta(days=20), 40), (NOW, 90)]
    svg = sparkline(points, now=NOW, width=100, height=24)
    assert svg.count("<path") == 1
    assert "from 40 to 90, low 40, high 90" in svg
    path = svg.split('d="')[1].split('"')[0]
    xs = [float(part[1:].split(",")[0]) for part in path.split()]
    assert xs == sorted(xs)
    assert xs[-1] == 98.0  # now is at the right edge (width - padding)


def test_it_leaves_out_points_older_than_the_range():
    svg = sparkline([(NOW - timedelta(days=45), 10), (NOW, 70)], now=NOW)
    assert "low 70" in svg


def test_it_maps_score_100_to_the_top_and_0_to_the_bottom():
    svg = sparkline([(NOW - timedelta(days=2), 0), (NOW, 100)], now=NOW, height=24)
    path = svg.split('d="')[1].split('"')[0]
    ys = [float(part.split(",")[1]) for part in path.split()]
    assert ys == [22.0, 2.0]


def test_it_draws_a_single_point_as_a_flat_line():
    svg = sparkline([(NOW, 75)], now=NOW)
    assert "<path" in svg and "<circle" in svg


def test_it_labels_grade_bands_and_days_on_the_history_chart():
    svg = history_chart([(NOW - timedelta(days=3), 72), (NOW, 91)], now=NOW, days=30)
    for label in ("90 A", "80 B", "70 C", "60 D"):
        assert label in svg
    assert "22 Nov" in svg and "23 Oct" in svg
    assert "2 evaluations" in svg


def test_it_says_so_when_there_is_no_history():
    assert "No evaluations yet" in history_chart([], now=NOW)


def test_a_fleets_sparklines_from_day_numbers_are_those_of_the_points():
    """Sparklines.draw_days (the fleet page: day numbers and lows) draws what draw() draws of
    the (midnight, low) points: days out of the range left out, out of order or repeated days
    as draw() orders them, one point, none; the memos shared across the fleet's rows."""
    import random

    from readiness.charts import Sparklines
    from readiness.selectors import _Midnights

    now = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    midnights = _Midnights((now - timedelta(days=31)).date())
    rng = random.Random(7)
    cases = [([], []), ([30], [55]), ([0, 1, 2], [90, 80, 70]), ([3, 1, 2], [1, 2, 3]),
             ([4, 4, 5], [10, 20, 30]), ([0, 31, 32], [50, 60, 70])]  # fmt: skip
    for _ in range(40):
        days = sorted(rng.sample(range(34), rng.randint(0, 33)))
        cases.append((days, [rng.randint(0, 100) for _ in days]))
    by_days, by_points = Sparklines(now=now), Sparklines(now=now)
    for days, lows in cases:
        points = [(midnights[day], low) for day, low in zip(days, lows, strict=True)]
        assert by_days.draw_days(days, lows, midnights) == by_points.draw(points)
