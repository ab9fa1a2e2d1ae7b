"""Occurrence arithmetic for weekly windows. Pure code: no Django, `now` is passed in.

A window is stored as local wall-clock time plus an IANA zone. Each scheduled local
day gives exactly one occurrence, read with the RFC 5545 (section 3.3.5) rules:

- a local time that does not exist (spring-forward gap) is read with the UTC offset
  before the gap, so it lands after the gap in wall-clock terms (02:30 -> 03:30);
- a local time that happens twice (fall-back) means the first one;
- the end is start + duration in exact UTC time.

With zoneinfo both rules are `fold=0`: PEP 495 maps a gap time with fold=0 through the
offset before the transition and picks the earlier of two ambiguous times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_DURATION = 5
MAX_DURATION = 480
ADVISED_DURATION = (15, 90)  # the seed's "15-90 minutes a week"


class ScheduleError(ValueError):
    """Bad window input: unknown zone, weekday, duration out of range."""


@dataclass(frozen=True)
class Slot:
    """One materialised occurrence: the local day it belongs to and its exact UTC span."""

    local_date: date
    start: datetime  # UTC
    end: datetime  # UTC
    local_start: datetime  # aware, in the window's zone (shows the real wall time)


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or ScheduleError."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ScheduleError(f"{name!r} is not an IANA time zone (for example Europe/Berlin).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"{name!r} is not an IANA time zone (for example Europe/Berlin)."
        ) from None


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekdays(text: str) -> tuple[int, ...]:
    """'sun,wed' -> (2, 6) (Monday = 0); full names too; rejects unknown names and empty lists."""
    days = []
    for part in (text or "").replace(" ", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in WEEKDAYS:
            days.append(WEEKDAYS.index(part))
        elif part in _FULL:
            days.append(_FULL.index(part))
        else:
            raise ScheduleError(
                f"{part!r} is not a weekday; use mon, tue, wed, thu, fri, sat, sun."
            )
    if not days:
        raise ScheduleError("Give at least one weekday (mon, tue, wed, thu, fri, sat, sun).")
    return tuple(sorted(set(days)))


def check_duration(minutes: int) -> int:
    if not MIN_DURATION <= minutes <= MAX_DURATION:
        raise ScheduleError(
            f"Duration {minutes} min is out of range: use {MIN_DURATION} to {MAX_DURATION} minutes."
        )
    return minutes


def duration_warning(minutes: int) -> str | None:
    """The UI's advice when a window is outside the usual 15-90 minutes."""
    low, high = ADVISED_DURATION
    if low <= minutes <= high:
        return None
    return f"Teams usually set aside {low}-{high} minutes a week; this window is {minutes}."


def resolve_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local DAY AT in TZ under the gap/fold rules (fold=0 for both)."""
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def slot(day: date, at: time, duration_minutes: int, tz: ZoneInfo) -> Slot:
    start = resolve_local(day, at, tz)
    return Slot(
        local_date=day,
        start=start,
        end=start + timedelta(minutes=duration_minutes),
        local_start=start.astimezone(tz),
    )


def slots(
    *,
    weekdays: tuple[int, ...] | list[int],
    start_time: time,
    duration_minutes: int,
    tz_name: str,
    active_from: date,
    active_until: date | None,
    first_day: date,
    last_day: date,
) -> list[Slot]:
    """Every occurrence whose local date lies in [first_day, last_day], one per scheduled day."""
    tz = zone(tz_name)
    day = max(first_day, active_from)
    last = min(last_day, active_until) if active_until else last_day
    wanted = set(weekdays)
    result = []
    while day <= last:
        if day.weekday() in wanted:
            result.append(slot(day, start_time, duration_minutes, tz))
        day += timedelta(days=1)
    return result


def local_today(now: datetime, tz_name: str) -> date:
    return now.astimezone(zone(tz_name)).date()


def local_target(value: datetime, tz_name: str) -> datetime:
    """A target time: a naive VALUE is local wall time in the zone (fold=0), aware is kept."""
    tz = zone(tz_name)
    if value.tzinfo is None:
        return resolve_local(value.date(), value.time(), tz)
    return value.astimezone(UTC)


def offset_from(target: datetime, *, days: int, hours: int, tz_name: str) -> datetime:
    """TARGET moved by DAYS on the local calendar (same wall time) then HOURS in exact time."""
    tz = zone(tz_name)
    moved = target
    if days:
        local = target.astimezone(tz)
        moved = resolve_local(local.date() + timedelta(days=days), local.time(), tz)
    return (moved + timedelta(hours=hours)).astimezone(UTC)
