"""RFC 5545 recurrence rules for maintenance windows. Pure code: no Django, `now` is passed in.

A window is an RRULE (python-dateutil) that picks local *days*, plus a local start time,
a duration and an IANA zone. The rule is expanded on the local calendar from the window's
active-from day (its DTSTART); each day it picks gets one occurrence at the local start
time, read with the gap/fold rules of `occurrences.resolve_local` (RFC 5545 section 3.3.5),
and `end = start + duration` in exact time. So every kind (weekly, monthly by weekday
ordinal, monthly by day of month, every N weeks, one-off, any other rule) has the same
DST behaviour and exact lengths.

Rules stay on the day level: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY and BYHOUR,
BYMINUTE, BYSECOND are refused (the start time is given on its own). UNTIL may be a date
(the last local day included) or a UTC date-time (occurrences starting after it are
dropped). COUNT counts occurrences from active-from, before skip dates and freezes are
applied (as RFC 5545 counts before EXDATE).

A day that a monthly rule asks for but that does not exist (the 31st in April, a fifth
Tuesday in a month with four) is skipped, as RFC 5545 says; `skipped_months` lists those
months so the calendar can say so.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil import rrule as du

from . import occurrences as occ
from .occurrences import ScheduleError, Slot

KINDS = {
    "weekly": "Weekly",
    "monthly_weekday": "Monthly by weekday",
    "monthly_day": "Monthly by day",
    "every_n_weeks": "Every N weeks",
    "once": "Once",
    "custom": "Custom RRULE",
}
ONCE = "FREQ=DAILY;COUNT=1"
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ALLOWED_PARTS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "BYWEEKNO",
    "BYYEARDAY",
    "WKST",
}
DAY_LEVEL = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
SEARCH_YEARS = 10  # a rule with no occurrence in this many years "never occurs"
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_DAY_NAMES = dict(zip(DAY_CODES, occ._FULL, strict=True))


@dataclass(frozen=True)
class Rule:
    """A checked rule: the canonical text and what dateutil needs to expand it."""

    text: str  # canonical RRULE value, UNTIL included (FREQ=MONTHLY;BYDAY=2TU)
    parts: dict[str, str]
    until_day: date | None  # UNTIL given as a date: the last local day included
    until_instant: datetime | None  # UNTIL given as a UTC date-time

    @property
    def freq(self) -> str:
        return self.parts["FREQ"]


def _until(value: str) -> tuple[date | None, datetime | None]:
    if re.fullmatch(r"\d{8}", value):
        try:
            return datetime.strptime(value, "%Y%m%d").date(), None
        except ValueError:
            pass
    elif re.fullmatch(r"\d{8}T\d{6}Z", value):
        try:
            return None, datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            pass
    raise ScheduleError(
        f"UNTIL={value} is not a date (YYYYMMDD) or a UTC date-time (YYYYMMDDTHHMMSSZ)."
    )


def parse(text: str) -> Rule:
    """Check an RRULE value ('FREQ=MONTHLY;BYDAY=2TU', an 'RRULE:' prefix is allowed)."""
    raw = (text or "").strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    if not raw:
        raise ScheduleError("Give an RRULE, for example FREQ=MONTHLY;BYDAY=2TU.")
    if "\n" in raw or len(raw) > 300:
        raise ScheduleError("An RRULE is one line of at most 300 characters.")
    parts: dict[str, str] = {}
    for piece in raw.split(";"):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise ScheduleError(f"{piece!r} in the RRULE is not NAME=VALUE.")
        if key in parts:
            raise ScheduleError(f"{key} appears twice in the RRULE.")
        if key in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            raise ScheduleError(
                f"{key} is not used: the local start time is given with --start (one "
                "occurrence per scheduled day)."
            )
        if key == "DTSTART":
            raise ScheduleError("DTSTART is not part of the rule: the window starts active-from.")
        if key not in ALLOWED_PARTS:
            raise ScheduleError(f"{key} is not an RRULE part (RFC 5545 section 3.3.10).")
        parts[key] = value
    if "FREQ" not in parts:
        raise ScheduleError("The RRULE needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY).")
    if parts["FREQ"] not in DAY_LEVEL:
        raise ScheduleError(
            f"FREQ={parts['FREQ']} is not supported: a window repeats DAILY, WEEKLY, MONTHLY "
            "or YEARLY, at one local start time."
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError("Use COUNT or UNTIL, not both (RFC 5545).")
    for key in ("COUNT", "INTERVAL"):
        if key in parts and not (parts[key].isdigit() and 1 <= int(parts[key]) <= 1000):
            raise ScheduleError(f"{key}={parts[key]} must be a whole number from 1 to 1000.")
    _check_numbers(parts, "BYMONTHDAY", 31)
    _check_numbers(parts, "BYMONTH", 12, negative=False)
    until_day, until_instant = _until(parts["UNTIL"]) if "UNTIL" in parts else (None, None)
    order = ["FREQ", *sorted(k for k in parts if k != "FREQ")]
    canonical = ";".join(f"{key}={parts[key]}" for key in order)
    rule = Rule(canonical, parts, until_day, until_instant)
    try:
        _expander(rule, date(2000, 1, 3))
    except (ValueError, TypeError) as exc:
        raise ScheduleError(f"Not a valid RRULE: {exc}.") from None
    return rule


def _check_numbers(parts: dict[str, str], key: str, top: int, *, negative: bool = True) -> None:
    for value in parts.get(key, "").split(",") if key in parts else ():
        number = int(value) if re.fullmatch(r"[+-]?\d{1,3}", value) else 0
        if not (1 <= abs(number) <= top) or (number < 0 and not negative):
            allowed = f"1 to {top}" + (f" or -{top} to -1" if negative else "")
            raise ScheduleError(f"{key}={parts[key]}: each value must be {allowed}.")


def _expander(rule: Rule, dtstart: date) -> du.rrule:
    """dateutil's rrule for RULE from DTSTART (naive local midnight), UNTIL handled by us."""
    body = ";".join(f"{k}={v}" for k, v in rule.parts.items() if k != "UNTIL")
    return du.rrulestr(body, dtstart=datetime.combine(dtstart, time()))


def weekly(days: tuple[int, ...] | list[int], interval: int = 1) -> str:
    """FREQ=WEEKLY;BYDAY=SU (Monday = 0), with INTERVAL when every N weeks."""
    codes = ",".join(DAY_CODES[d] for d in sorted(set(days)))
    if interval > 1:
        return f"FREQ=WEEKLY;BYDAY={codes};INTERVAL={interval}"
    return f"FREQ=WEEKLY;BYDAY={codes}"


def monthly_weekday(ordinal: int, day: int) -> str:
    """FREQ=MONTHLY;BYDAY=2TU (ordinal 1..5 or -1 for the last)."""
    return f"FREQ=MONTHLY;BYDAY={ordinal}{DAY_CODES[day]}"


def monthly_day(day: int) -> str:
    return f"FREQ=MONTHLY;BYMONTHDAY={day}"


def kind_of(text: str) -> str:
    """Which form kind a canonical rule is (custom when it is none of the simple ones)."""
    if text == ONCE:
        return "once"
    if re.fullmatch(r"FREQ=WEEKLY;BYDAY=(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*", text):
        return "weekly"
    if re.fullmatch(r"FREQ=WEEKLY;BYDAY=[A-Z,]+;INTERVAL=\d+", text):
        return "every_n_weeks"
    if re.fullmatch(r"FREQ=MONTHLY;BYDAY=-?[1-5](MO|TU|WE|TH|FR|SA|SU)", text):
        return "monthly_weekday"
    if re.fullmatch(r"FREQ=MONTHLY;BYMONTHDAY=-?\d{1,2}", text):
        return "monthly_day"
    return "custom"


def describe(text: str, active_from: date | None = None) -> str:
    """A short English description ('second Tuesday of the month', 'every 2 weeks on sun')."""
    kind = kind_of(text)
    parts = dict(p.split("=", 1) for p in text.split(";"))
    if kind == "once":
        return f"once on {active_from:%Y-%m-%d}" if active_from else "once"
    if kind in ("weekly", "every_n_weeks"):
        days = ",".join(occ.WEEKDAYS[DAY_CODES.index(c)] for c in parts["BYDAY"].split(","))
        if kind == "weekly":
            return f"weekly on {days}"
        return f"every {parts['INTERVAL']} weeks on {days}"
    if kind == "monthly_weekday":
        match = re.fullmatch(r"(-?\d)(\w\w)", parts["BYDAY"])
        ordinal = _ORDINALS.get(int(match[1]), match[1])
        return f"{ordinal} {_DAY_NAMES[match[2]].capitalize()} of the month"
    if kind == "monthly_day":
        day = int(parts["BYMONTHDAY"])
        return "last day of the month" if day == -1 else f"day {day} of the month"
    return text


def _allowed(rule: Rule, when: date, start: datetime) -> bool:
    if rule.until_day is not None and when > rule.until_day:
        return False
    return rule.until_instant is None or start <= rule.until_instant


def days(rule: Rule, *, active_from: date, first_day: date, last_day: date) -> list[date]:
    """The local days RULE picks in [first_day, last_day], expanded from ACTIVE_FROM."""
    if last_day < first_day:
        return []
    expander = _expander(rule, active_from)
    low = datetime.combine(max(first_day, active_from), time())
    high = datetime.combine(last_day, time())
    picked = expander.between(low, high, inc=True)
    return sorted({moment.date() for moment in picked})


def slots(
    *,
    rule: str,
    start_time: time,
    duration_minutes: int,
    tz_name: str,
    active_from: date,
    active_until: date | None,
    first_day: date,
    last_day: date,
    skip: frozenset[date] | set[date] = frozenset(),
) -> list[Slot]:
    """Every occurrence whose local date lies in [first_day, last_day], one per picked day;
    days in SKIP (skip dates and freezes) are left out."""
    checked = parse(rule)
    tz = occ.zone(tz_name)
    last = min(last_day, active_until) if active_until else last_day
    result = []
    for day in days(checked, active_from=active_from, first_day=first_day, last_day=last):
        if day in skip:
            continue
        item = occ.slot(day, start_time, duration_minutes, tz)
        if _allowed(checked, day, item.start):
            result.append(item)
    return result


def first_slot(
    *,
    rule: str,
    start_time: time,
    duration_minutes: int,
    tz_name: str,
    active_from: date,
    active_until: date | None,
    now: datetime,
) -> Slot | None:
    """The first occurrence that has not ended at NOW, or None when the rule never occurs
    again (BYMONTHDAY=31;BYMONTH=2, UNTIL or COUNT in the past, active-until passed)."""
    checked = parse(rule)
    tz = occ.zone(tz_name)
    today = occ.local_today(now, tz_name)
    start = max(active_from, today - timedelta(days=1))
    horizon = start + timedelta(days=366 * SEARCH_YEARS)
    if active_until:
        horizon = min(horizon, active_until)
    expander = _expander(checked, active_from)
    moment = expander.after(datetime.combine(start, time()), inc=True)
    while moment is not None and moment.date() <= horizon:
        item = occ.slot(moment.date(), start_time, duration_minutes, tz)
        if not _allowed(checked, moment.date(), item.start):
            return None
        if item.end > now:
            return item
        moment = expander.after(moment, inc=False)
    return None


def skipped_months(
    rule: str, *, active_from: date, active_until: date | None, first_day: date, last_day: date
) -> list[tuple[date, str]]:
    """Months in [first_day, last_day] where a MONTHLY rule is due but picks no day (the 31st
    in a 30-day month, a fifth Tuesday that does not exist): (last day of that month, why)."""
    checked = parse(rule)
    if checked.freq != "MONTHLY" or "COUNT" in checked.parts:
        return []
    interval = int(checked.parts.get("INTERVAL", "1"))
    months = {int(m) for m in checked.parts.get("BYMONTH", "").split(",") if m}
    result = []
    begin = max(first_day, active_from.replace(day=1))
    year, month = begin.year, begin.month
    while date(year, month, 1) <= last_day:
        month_first = date(year, month, 1)
        month_last = date(year, month, calendar.monthrange(year, month)[1])
        due = ((year - active_from.year) * 12 + month - active_from.month) % interval == 0
        in_range = month_last >= active_from and (
            active_until is None or month_first <= active_until
        )
        if checked.until_day is not None and month_first > checked.until_day:
            in_range = False
        if checked.until_instant is not None and month_first > checked.until_instant.date():
            in_range = False
        if due and in_range and (not months or month in months):
            picked = days(
                checked,
                active_from=active_from,
                first_day=max(month_first, active_from),
                last_day=month_last,
            )
            if not picked and month_last >= active_from:
                why = f"{month_first:%B} has no {_wanted(checked)}: skipped"
                result.append((month_last, why))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


def _wanted(rule: Rule) -> str:
    if "BYMONTHDAY" in rule.parts:
        values = [int(v) for v in rule.parts["BYMONTHDAY"].split(",")]
        return " or ".join(_nth(v) for v in values) + (" day" if len(values) > 1 else "")
    if "BYDAY" in rule.parts:
        return describe(f"FREQ=MONTHLY;BYDAY={rule.parts['BYDAY']}").removesuffix(" of the month")
    return "matching day"


def _nth(value: int) -> str:
    if value < 0:
        return f"{_nth(-value)} day from the end"
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


def rule_from(*, weekdays: str = "", rrule: str = "", once: date | None = None) -> str:
    """The canonical rule from exactly one of: a weekday list (weekly shorthand, 'sun,wed'),
    an RRULE, or a one-off day (FREQ=DAILY;COUNT=1 from that day)."""
    given = [
        name for name, value in (("weekday", weekdays), ("rrule", rrule), ("once", once)) if value
    ]
    if len(given) != 1:
        raise ScheduleError(
            "Give exactly one of: weekdays (weekly), an RRULE, or a one-off date"
            + (f" (got {' and '.join(given)})." if given else ".")
        )
    if weekdays:
        return weekly(occ.parse_weekdays(weekdays))
    if once:
        return ONCE
    return parse(rrule).text
