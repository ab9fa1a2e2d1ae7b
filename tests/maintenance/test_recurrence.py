"""RRULE windows across DST: monthly by weekday ordinal and by day, every N weeks, once.
Pure code, no database."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from maintenance import recurrence
from maintenance.occurrences import ScheduleError


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def on(rule, day, at, zone, *, minutes=120, active_from=date(2026, 1, 1)):
    hour, minute = map(int, at.split(":"))
    return recurrence.slots(
        rule=rule,
        start_time=time(hour, minute),
        duration_minutes=minutes,
        tz_name=zone,
        active_from=active_from,
        active_until=None,
        first_day=day,
        last_day=day,
    )


@pytest.mark.parametrize(
    ("rule", "zone", "day", "at", "start_utc", "local_iso", "why"),
    [
        # Europe/Berlin: forward 2027-03-28 02:00 -> 03:00, back 2026-10-25 03:00 -> 02:00
        ("FREQ=MONTHLY;BYDAY=-1SU", "Europe/Berlin", date(2027, 3, 28), "02:30",
         utc(2027, 3, 28, 1, 30), "2027-03-28T03:30:00+02:00", "last Sunday is the gap day"),
        ("FREQ=MONTHLY;BYDAY=-1SU", "Europe/Berlin", date(2026, 10, 25), "02:30",
         utc(2026, 10, 25, 0, 30), "2026-10-25T02:30:00+02:00", "last Sunday is the fold day"),
        ("FREQ=MONTHLY;BYDAY=2TU", "Europe/Berlin", date(2027, 3, 9), "02:30",
         utc(2027, 3, 9, 1, 30), "2027-03-09T02:30:00+01:00", "second Tuesday, winter"),
        ("FREQ=MONTHLY;BYDAY=2TU", "Europe/Berlin", date(2027, 4, 13), "02:30",
         utc(2027, 4, 13, 0, 30), "2027-04-13T02:30:00+02:00", "second Tuesday, summer"),
        ("FREQ=MONTHLY;BYMONTHDAY=31", "Europe/Berlin", date(2027, 3, 31), "02:30",
         utc(2027, 3, 31, 0, 30), "2027-03-31T02:30:00+02:00", "day 31, after the change"),
        # America/Santiago: forward 2026-09-06 00:00 -> 01:00 (-04 -> -03),
        # back 2027-04-04 00:00 -> 2027-04-03 23:00 (-03 -> -04)
        ("FREQ=MONTHLY;BYDAY=1SU", "America/Santiago", date(2026, 9, 6), "00:30",
         utc(2026, 9, 6, 4, 30), "2026-09-06T01:30:00-03:00", "gap at midnight"),
        ("FREQ=MONTHLY;BYDAY=1SA", "America/Santiago", date(2027, 4, 3), "23:30",
         utc(2027, 4, 4, 2, 30), "2027-04-03T23:30:00-03:00", "fold before midnight: first"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "America/Santiago", date(2027, 4, 30), "23:30",
         utc(2027, 5, 1, 3, 30), "2027-04-30T23:30:00-04:00", "last day, winter offset"),
        # Australia/Lord_Howe: 30-minute shift; forward 2026-10-04 02:00 -> 02:30,
        # back 2027-04-04 02:00 -> 01:30
        ("FREQ=MONTHLY;BYDAY=1SU", "Australia/Lord_Howe", date(2026, 10, 4), "02:15",
         utc(2026, 10, 3, 15, 45), "2026-10-04T02:45:00+11:00", "30-minute gap"),
        ("FREQ=MONTHLY;BYDAY=1SU", "Australia/Lord_Howe", date(2027, 4, 4), "01:45",
         utc(2027, 4, 3, 14, 45), "2027-04-04T01:45:00+11:00", "30-minute fold: first"),
        ("FREQ=MONTHLY;BYDAY=-1SU", "Australia/Lord_Howe", date(2027, 4, 25), "01:45",
         utc(2027, 4, 24, 15, 15), "2027-04-25T01:45:00+10:30", "after the change"),
    ],
)  # fmt: skip
def test_it_reads_monthly_windows_with_the_rfc5545_rules(
    rule, zone, day, at, start_utc, local_iso, why
):
    (slot,) = on(rule, day, at, zone)
    assert slot.start == start_utc, why
    assert slot.local_start.isoformat() == local_iso, why
    assert slot.end - slot.start == timedelta(minutes=120), why


@pytest.mark.parametrize(
    ("zone", "active_from", "at", "days", "gap_or_fold", "start_utc"),
    [
        ("Europe/Berlin", date(2027, 3, 22), "02:30",
         [date(2027, 3, 28), date(2027, 4, 11), date(2027, 4, 25)],
         date(2027, 3, 28), utc(2027, 3, 28, 1, 30)),
        ("America/Santiago", date(2026, 8, 31), "00:30",
         [date(2026, 9, 6), date(2026, 9, 20), date(2026, 10, 4)],
         date(2026, 9, 6), utc(2026, 9, 6, 4, 30)),
        ("Australia/Lord_Howe", date(2026, 9, 28), "02:15",
         [date(2026, 10, 4), date(2026, 10, 18), date(2026, 11, 1)],
         date(2026, 10, 4), utc(2026, 10, 3, 15, 45)),
        ("Australia/Lord_Howe", date(2027, 3, 29), "01:45",
         [date(2027, 4, 4), date(2027, 4, 18), date(2027, 5, 2)],
         date(2027, 4, 4), utc(2027, 4, 3, 14, 45)),
    ],
)  # fmt: skip
def test_it_places_every_two_weeks_across_dst(zone, active_from, at, days, gap_or_fold, start_utc):
    hour, minute = map(int, at.split(":"))
    slots = recurrence.slots(
        rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SU",
        start_time=time(hour, minute),
        duration_minutes=90,
        tz_name=zone,
        active_from=active_from,
        active_until=None,
        first_day=active_from,
        last_day=days[-1],
    )
    assert [s.local_date for s in slots] == days
    changed = next(s for s in slots if s.local_date == gap_or_fold)
    assert changed.start == start_utc
    assert all(s.end - s.start == timedelta(minutes=90) for s in slots)


def test_it_skips_day_31_in_short_months_and_says_so():
    slots = recurrence.slots(
        rule="FREQ=MONTHLY;BYMONTHDAY=31",
        start_time=time(3, 0),
        duration_minutes=60,
        tz_name="Europe/Berlin",
        active_from=date(2027, 1, 1),
        active_until=None,
        first_day=date(2027, 1, 1),
        last_day=date(2027, 7, 31),
    )
    assert [s.local_date for s in slots] == [
        date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31), date(2027, 7, 31),
    ]  # fmt: skip
    notes = recurrence.skipped_months(
        "FREQ=MONTHLY;BYMONTHDAY=31",
        active_from=date(2027, 1, 1),
        active_until=None,
        first_day=date(2027, 1, 1),
        last_day=date(2027, 7, 31),
    )
    assert notes == [
        (date(2027, 2, 28), "February has no 31st: skipped"),
        (date(2027, 4, 30), "April has no 31st: skipped"),
        (date(2027, 6, 30), "June has no 31st: skipped"),
    ]


@pytest.mark.parametrize(
    ("zone", "winter", "summer", "after"),
    [
        # 03:00 local on the 31st, before, during and after each zone's summer time
        ("Europe/Berlin", utc(2026, 8, 31, 1, 0), utc(2026, 10, 31, 2, 0), utc(2027, 3, 31, 1, 0)),
        ("America/Santiago", utc(2026, 8, 31, 7, 0), utc(2026, 10, 31, 6, 0),
         utc(2027, 5, 31, 7, 0)),
        ("Australia/Lord_Howe", utc(2026, 8, 30, 16, 30), utc(2026, 10, 30, 16, 0),
         utc(2027, 5, 30, 16, 30)),
    ],
)  # fmt: skip
def test_day_31_across_dst_is_exact_and_short_months_are_skipped_and_said(
    zone, winter, summer, after
):
    window = dict(start_time=time(3, 0), duration_minutes=75, tz_name=zone,
                  active_from=date(2026, 8, 1), active_until=None)  # fmt: skip
    slots = recurrence.slots(
        rule="FREQ=MONTHLY;BYMONTHDAY=31", first_day=date(2026, 8, 1),
        last_day=date(2027, 5, 31), **window,
    )  # fmt: skip
    assert [s.local_date for s in slots] == [
        date(2026, 8, 31), date(2026, 10, 31), date(2026, 12, 31), date(2027, 1, 31),
        date(2027, 3, 31), date(2027, 5, 31),
    ]  # fmt: skip
    starts = {s.start for s in slots}
    assert {winter, summer, after} <= starts
    assert all(s.end - s.start == timedelta(minutes=75) for s in slots)
    assert all(s.local_start.strftime("%H:%M") == "03:00" for s in slots)
    notes = recurrence.skipped_months(
        "FREQ=MONTHLY;BYMONTHDAY=31", active_from=date(2026, 8, 1), active_until=None,
        first_day=date(2026, 8, 1), last_day=date(2027, 5, 31),
    )  # fmt: skip
    assert [why for _, why in notes] == [
        "September has no 31st: skipped", "November has no 31st: skipped",
        "February has no 31st: skipped", "April has no 31st: skipped",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "days", "starts"),
    [
        # every 3 weeks on Sunday 02:30 from 2027-03-07 (Berlin: the 28th is the gap day)
        ("Europe/Berlin", [date(2027, 3, 7), date(2027, 3, 28), date(2027, 4, 18)],
         [utc(2027, 3, 7, 1, 30), utc(2027, 3, 28, 1, 30), utc(2027, 4, 18, 0, 30)]),
        # Santiago: 2027-04-04 is not a repeat day; its offset still applies from then on
        ("America/Santiago", [date(2027, 3, 7), date(2027, 3, 28), date(2027, 4, 18)],
         [utc(2027, 3, 7, 5, 30), utc(2027, 3, 28, 5, 30), utc(2027, 4, 18, 6, 30)]),
        # Lord Howe: back from +11 to +10:30 on 2027-04-04
        ("Australia/Lord_Howe", [date(2027, 3, 7), date(2027, 3, 28), date(2027, 4, 18)],
         [utc(2027, 3, 6, 15, 30), utc(2027, 3, 27, 15, 30), utc(2027, 4, 17, 16, 0)]),
    ],
)  # fmt: skip
def test_every_three_weeks_keeps_the_local_time_across_dst(zone, days, starts):
    slots = recurrence.slots(
        rule="FREQ=WEEKLY;INTERVAL=3;BYDAY=SU", start_time=time(2, 30), duration_minutes=60,
        tz_name=zone, active_from=date(2027, 3, 1), active_until=None,
        first_day=date(2027, 3, 1), last_day=date(2027, 4, 30),
    )  # fmt: skip
    assert [s.local_date for s in slots] == days
    assert [s.start for s in slots] == starts
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)


def test_it_leaves_out_skip_days():
    slots = recurrence.slots(
        rule="FREQ=WEEKLY;BYDAY=SU",
        start_time=time(3, 0),
        duration_minutes=60,
        tz_name="UTC",
        active_from=date(2026, 12, 1),
        active_until=None,
        first_day=date(2026, 12, 1),
        last_day=date(2027, 1, 10),
        skip={date(2026, 12, 20) + timedelta(days=n) for n in range(15)},  # Dec 20 - Jan 3
    )
    assert [s.local_date for s in slots] == [
        date(2026, 12, 6),
        date(2026, 12, 13),
        date(2027, 1, 10),
    ]


NOW = utc(2026, 12, 5, 12, 0)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2",
        "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261130",
        "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261201T000000Z",
        "FREQ=DAILY;COUNT=1",  # its only day (active-from) has passed
    ],
)
def test_it_finds_rules_that_never_occur(rule):
    assert (
        recurrence.first_slot(
            rule=rule,
            start_time=time(3, 0),
            duration_minutes=60,
            tz_name="Europe/Berlin",
            active_from=date(2026, 11, 1),
            active_until=None,
            now=NOW,
        )  # fmt: skip
        is None
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FREQ=HOURLY", "not supported"),
        ("FREQ=WEEKLY;BYHOUR=3", "BYHOUR"),
        ("FREQ=MONTHLY;BYDAY=9XX", "Not a valid RRULE"),
        ("BYDAY=MO", "needs FREQ"),
        ("FREQ=MONTHLY;BYMONTHDAY=40", "BYMONTHDAY"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20270101", "COUNT or UNTIL"),
        ("FREQ=WEEKLY;UNTIL=2027", "UNTIL"),
        ("FREQ=WEEKLY;FOO=1", "not an RRULE part"),
    ],
)
def test_it_refuses_bad_rules_clearly(text, message):
    with pytest.raises(ScheduleError, match=message):
        recurrence.parse(text)


def test_it_describes_and_canonicalises_rules():
    assert recurrence.parse("rrule:freq=monthly;byday=2tu").text == "FREQ=MONTHLY;BYDAY=2TU"
    assert recurrence.describe("FREQ=MONTHLY;BYDAY=-1SU") == "last Sunday of the month"
    assert recurrence.kind_of("FREQ=WEEKLY;BYDAY=SU;INTERVAL=2") == "every_n_weeks"
    assert recurrence.rule_from(weekdays="sun,wed") == "FREQ=WEEKLY;BYDAY=WE,SU"
