"""Week and month grids of occurrences for the maintenance calendar: pure code.

Days are the viewer's local days: each item is placed on the local date of its start.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass
class Day:
    day: date
    in_range: bool  # inside the month shown (a month grid starts and ends on full weeks)
    today: bool
    items: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # skipped days: freezes, months without the day


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First Monday on or before the 1st; last Sunday on or after the month's end (exclusive)."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    start = first - timedelta(days=first.weekday())
    last = following - timedelta(days=1)
    end = last + timedelta(days=7 - last.weekday())
    return start, end


def week_bounds(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=7)


def utc_range(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants covering local days [start, end) in ZONE."""
    return (
        datetime.combine(start, time(), tzinfo=zone),
        datetime.combine(end, time(), tzinfo=zone),
    )


def grid(
    items: Iterable,
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    today: date,
    month: int | None = None,
    when=lambda item: item.start,
) -> list[list[Day]]:
    """Weeks of days [start, end) with ITEMS placed on the local day of when(item)."""
    by_day: dict[date, list] = defaultdict(list)
    for item in items:
        by_day[when(item).astimezone(zone).date()].append(item)
    weeks: list[list[Day]] = []
    day = start
    while day < end:
        if day.weekday() == 0 or not weeks:
            weeks.append([])
        entries = sorted(by_day.get(day, []), key=when)
        weeks[-1].append(
            Day(
                day=day,
                in_range=month is None or day.month == month,
                today=day == today,
                items=entries,
            )
        )
        day += timedelta(days=1)
    return weeks


def add_notes(weeks: list[list[Day]], notes: dict[date, list[str]]) -> None:
    """Attach NOTES (local day -> texts, e.g. 'Freeze: year end (all clusters)') to the days."""
    for week in weeks:
        for day in week:
            day.notes.extend(notes.get(day.day, []))
