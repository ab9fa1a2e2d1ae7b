"""Calendar grids: pure code, no database."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from maintenance.calendar_grid import grid, month_bounds, utc_range, week_bounds

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Item:
    start: datetime


def test_it_covers_a_month_in_full_weeks_monday_first():
    start, end = month_bounds(2026, 11)
    assert start == date(2026, 10, 26) and start.weekday() == 0
    assert end == date(2026, 12, 7) and end.weekday() == 0


def test_it_handles_december():
    start, end = month_bounds(2026, 12)
    assert start == date(2026, 11, 30) and end == date(2027, 1, 4)


def test_it_places_items_on_the_viewers_local_day():
    late = Item(datetime(2026, 11, 21, 23, 30, tzinfo=UTC))  # Sunday 00:30 in Berlin
    start, end = week_bounds(date(2026, 11, 18))
    weeks = grid([late], start=start, end=end, zone=BERLIN, today=date(2026, 11, 18))
    assert len(weeks) == 1 and len(weeks[0]) == 7
    sunday = weeks[0][6]
    assert sunday.day == date(2026, 11, 22) and sunday.items == [late]
    assert weeks[0][2].today


def test_it_marks_days_outside_the_month():
    start, end = month_bounds(2026, 11)
    weeks = grid([], start=start, end=end, zone=BERLIN, today=date(2026, 11, 1), month=11)
    assert len(weeks) == 6
    assert not weeks[0][0].in_range and weeks[0][6].in_range


def test_it_converts_local_days_to_instants():
    since, until = utc_range(date(2026, 11, 1), date(2026, 11, 2), BERLIN)
    assert since.astimezone(UTC) == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert (until - since).total_seconds() == 86400
