"""Occurrence arithmetic across DST changes: pure code, no database."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from maintenance import occurrences as occ


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def one(day: date, at: str, zone: str, minutes: int = 120) -> occ.Slot:
    hour, minute = map(int, at.split(":"))
    (slot,) = occ.slots(
        weekdays=[day.weekday()],
        start_time=time(hour, minute),
        duration_minutes=minutes,
        tz_name=zone,
        active_from=date(2020, 1, 1),
        active_until=None,
        first_day=day,
        last_day=day,
    )
    return slot


@pytest.mark.parametrize(
    ("zone", "day", "at", "start_utc", "local_iso", "why"),
    [
        # Europe/Berlin: forward 2027-03-28 02:00 -> 03:00, back 2026-10-25 03:00 -> 02:00
        ("Europe/Berlin", date(2027, 3, 28), "02:30", utc(2027, 3, 28, 1, 30),
         "2027-03-28T03:30:00+02:00", "gap: offset before the gap"),
        ("Europe/Berlin", date(2026, 10, 25), "02:30", utc(2026, 10, 25, 0, 30),
         "2026-10-25T02:30:00+02:00", "fold: the first one"),
        ("Europe/Berlin", date(2027, 3, 21), "02:30", utc(2027, 3, 21, 1, 30),
         "2027-03-21T02:30:00+01:00", "ordinary winter day"),
        ("Europe/Berlin", date(2027, 4, 4), "02:30", utc(2027, 4, 4, 0, 30),
         "2027-04-04T02:30:00+02:00", "ordinary summer day"),
        # America/New_York: forward 2027-03-14 02:00 -> 03:00, back 2026-11-01 02:00 -> 01:00
        ("America/New_York", date(2027, 3, 14), "02:15", utc(2027, 3, 14, 7, 15),
         "2027-03-14T03:15:00-04:00", "gap: read with EST"),
        ("America/New_York", date(2026, 11, 1), "01:30", utc(2026, 11, 1, 5, 30),
         "2026-11-01T01:30:00-04:00", "fold: EDT, the first one"),
        # Australia/Lord_Howe: 30-minute shift; forward 2026-10-04 02:00 -> 02:30 (+10:30 -> +11),
        # back 2027-04-04 02:00 -> 01:30 (+11 -> +10:30)
        ("Australia/Lord_Howe", date(2026, 10, 4), "02:15", utc(2026, 10, 3, 15, 45),
         "2026-10-04T02:45:00+11:00", "gap of 30 minutes"),
        ("Australia/Lord_Howe", date(2027, 4, 4), "01:45", utc(2027, 4, 3, 14, 45),
         "2027-04-04T01:45:00+11:00", "fold of 30 minutes: the first one"),
        ("Australia/Lord_Howe", date(2027, 4, 4), "02:15", utc(2027, 4, 3, 15, 45),
         "2027-04-04T02:15:00+10:30", "just after the fold"),
        # Asia/Kolkata: no DST at all
        ("Asia/Kolkata", date(2027, 3, 28), "02:30", utc(2027, 3, 27, 21, 0),
         "2027-03-28T02:30:00+05:30", "no change"),
    ],
)  # fmt: skip
def test_it_reads_local_times_with_the_rfc5545_rules(zone, day, at, start_utc, local_iso, why):
    slot = one(day, at, zone)
    assert slot.start == start_utc, why
    assert slot.local_start.isoformat() == local_iso, why
    assert slot.end - slot.start == timedelta(minutes=120)


def test_it_matches_the_spec_examples():
    assert one(date(2027, 3, 28), "02:30", "Europe/Berlin").start == utc(2027, 3, 28, 1, 30)
    assert one(date(2026, 10, 25), "02:30", "Europe/Berlin").start == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("zone", "day", "at"),
    [
        ("Europe/Berlin", date(2027, 3, 28), "01:30"),  # window crosses the gap
        ("Europe/Berlin", date(2026, 10, 25), "01:30"),  # window crosses the fold
        ("America/New_York", date(2027, 3, 14), "01:00"),
        ("America/New_York", date(2026, 11, 1), "00:45"),
        ("Australia/Lord_Howe", date(2026, 10, 4), "01:30"),
        ("Australia/Lord_Howe", date(2027, 4, 4), "01:00"),
    ],
)
def test_it_keeps_exact_lengths_on_change_days(zone, day, at):
    slot = one(day, at, zone, minutes=120)
    assert (slot.end - slot.start).total_seconds() == 120 * 60
    wall = slot.end.astimezone(occ.zone(zone)).replace(tzinfo=None) - slot.local_start.replace(
        tzinfo=None
    )
    assert wall != timedelta(minutes=120)  # the wall clock shows more or less: exact time wins


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
)
@pytest.mark.parametrize("at", ["00:00", "01:30", "02:00", "02:15", "02:30", "03:00", "23:45"])
def test_it_gives_one_occurrence_per_scheduled_day_over_two_years(zone, at):
    hour, minute = map(int, at.split(":"))
    first, last = date(2026, 1, 1), date(2027, 12, 31)
    slots = occ.slots(
        weekdays=occ.parse_weekdays("sun,wed"),
        start_time=time(hour, minute),
        duration_minutes=90,
        tz_name=zone,
        active_from=first,
        active_until=None,
        first_day=first,
        last_day=last,
    )
    expected_days = [
        first + timedelta(days=n)
        for n in range((last - first).days + 1)
        if (first + timedelta(days=n)).weekday() in (2, 6)
    ]
    assert [slot.local_date for slot in slots] == expected_days
    assert len({slot.start for slot in slots}) == len(slots)
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=90)
        assert slot.local_start.date() == slot.local_date
        assert slot.start < slot.end
    # local wall time is the scheduled one, except after a gap where it is later
    assert all((slot.local_start.hour, slot.local_start.minute) >= (hour, minute) for slot in slots)


def test_it_respects_active_from_and_until():
    slots = occ.slots(
        weekdays=[6],
        start_time=time(2, 0),
        duration_minutes=60,
        tz_name="Europe/Berlin",
        active_from=date(2027, 1, 5),
        active_until=date(2027, 1, 24),
        first_day=date(2027, 1, 1),
        last_day=date(2027, 2, 28),
    )
    assert [s.local_date for s in slots] == [
        date(2027, 1, 10),
        date(2027, 1, 17),
        date(2027, 1, 24),
    ]


@pytest.mark.parametrize("bad", ["", "sunday,funday", "xyz", ",,"])
def test_it_rejects_bad_weekdays(bad):
    with pytest.raises(occ.ScheduleError):
        occ.parse_weekdays(bad)


def test_it_parses_weekdays():
    assert occ.parse_weekdays("sun,wed") == (2, 6)
    assert occ.parse_weekdays("Sunday, mon") == (0, 6)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe/Berlin ", "../etc/passwd", "", "UTC+2"])
def test_it_rejects_impossible_zones(bad):
    with pytest.raises(occ.ScheduleError):
        occ.zone(bad)


@pytest.mark.parametrize(("minutes", "ok"), [(4, False), (5, True), (480, True), (481, False)])
def test_it_bounds_the_duration(minutes, ok):
    if ok:
        assert occ.check_duration(minutes) == minutes
    else:
        with pytest.raises(occ.ScheduleError):
            occ.check_duration(minutes)


def test_it_warns_outside_the_seed_range():
    assert occ.duration_warning(14)
    assert occ.duration_warning(15) is None
    assert occ.duration_warning(90) is None
    assert occ.duration_warning(91)


def test_it_moves_day_offsets_along_the_local_calendar():
    target = occ.local_target(datetime(2027, 3, 30, 10, 0), "Europe/Berlin")  # CEST
    assert target == utc(2027, 3, 30, 8, 0)
    week_before = occ.offset_from(target, days=-7, hours=0, tz_name="Europe/Berlin")
    assert week_before == utc(2027, 3, 23, 9, 0)  # 10:00 CET, same wall time
    two_days = occ.offset_from(target, days=0, hours=-48, tz_name="Europe/Berlin")
    assert two_days == utc(2027, 3, 28, 8, 0)  # exact 48 hours
