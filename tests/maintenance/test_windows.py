"""Windows, materialised occurrences, edits and the command line."""

import json
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from maintenance.models import Occurrence, Reminder, Window
from maintenance.services import occurrences as occurrence_services
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday


def make_window(cluster, **kwargs):
    args = dict(
        cluster=cluster,
        weekdays="sun",
        start_time=time(2, 30),
        duration_minutes=120,
        tz="Europe/Berlin",
        now=NOW,
        name="Sunday reboots",
    )
    args.update(kwargs)
    return window_services.window_create(**args)


@pytest.mark.django_db
def test_it_materialises_the_coming_weeks_in_utc(cluster):
    window = make_window(cluster)
    rows = list(window.occurrences.order_by("start"))
    assert 8 <= len(rows) <= 9
    gap_day = next(o for o in rows if o.local_date == date(2027, 3, 28))
    assert gap_day.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert gap_day.end - gap_day.start == timedelta(minutes=120)
    assert gap_day.local_start == "2027-03-28T03:30:00+02:00"
    # materialising again adds nothing
    assert window_services.occurrences_materialise(window=window, now=NOW) == 0


@pytest.mark.django_db
def test_it_rematerialises_only_future_occurrences_on_edit(cluster):
    window = make_window(cluster)
    first = window.occurrences.order_by("start").first()  # 2027-03-07
    first.status = Occurrence.Status.PARTIAL
    first.save()
    later = NOW + timedelta(days=8)  # Tuesday 2027-03-09, after the first occurrence
    window_services.window_update(
        window=window, now=later, start_time=time(4, 0), duration_minutes=60
    )
    first.refresh_from_db()
    assert first.status == Occurrence.Status.PARTIAL
    assert first.start == datetime(2027, 3, 7, 1, 30, tzinfo=UTC)  # untouched
    future = list(window.occurrences.filter(start__gt=later).order_by("start"))
    assert future and all(
        o.local_start.endswith(("T04:00:00+01:00", "T04:00:00+02:00")) for o in future
    )
    assert all(o.end - o.start == timedelta(minutes=60) for o in future)


@pytest.mark.django_db
def test_it_keeps_a_cancelled_future_day_cancelled_across_edits(cluster):
    window = make_window(cluster)
    target = window.occurrences.get(local_date=date(2027, 3, 14))
    occurrence_services.occurrence_cancel(occurrence=target, now=NOW, reason="release freeze")
    window_services.window_update(window=window, now=NOW, start_time=time(3, 0))
    again = window.occurrences.get(local_date=date(2027, 3, 14))
    assert again.status == Occurrence.Status.CANCELLED
    assert again.cancelled_reason == "release freeze"
    assert again.local_start == "2027-03-14T03:00:00+01:00"


@pytest.mark.django_db
def test_it_keeps_a_cancelled_day_beyond_the_horizon_cancelled_across_edits(cluster):
    window = make_window(cluster)
    far = date(2027, 8, 1)  # a Sunday 22 weeks ahead, stored by a listing past the horizon
    window_services.occurrences_materialise(window=window, now=NOW, last_day=far)
    target = window.occurrences.get(local_date=far)
    occurrence_services.occurrence_cancel(occurrence=target, now=NOW, reason="summer freeze")
    window_services.window_update(window=window, now=NOW, duration_minutes=45)
    window_services.occurrences_materialise(window=window, now=NOW, last_day=far)
    again = window.occurrences.get(local_date=far)
    assert again.status == Occurrence.Status.CANCELLED
    assert again.cancelled_reason == "summer freeze"
    assert again.end - again.start == timedelta(minutes=45)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tz": "Mars/Olympus"}, "IANA"),
        ({"weekdays": "funday"}, "weekday"),
        ({"duration_minutes": 4}, "out of range"),
        ({"duration_minutes": 481}, "out of range"),
    ],
)
def test_it_rejects_bad_windows(cluster, changes, message):
    with pytest.raises(ValidationError, match=message):
        make_window(cluster, **changes)
    assert not Window.objects.exists()
    assert not Occurrence.objects.exists()


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("maintenance", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_cli_adds_a_window_and_lists_occurrences_as_json(cluster):
    with time_machine.travel(NOW, tick=False):
        out, err = run(
            "window", "add", "prod", "--weekday", "sun,wed", "--start", "02:30",
            "--duration", "120", "--tz", "Europe/Berlin", "--name", "nightly",
        )  # fmt: skip
        assert "nightly" in out
        assert "warning" in err  # 120 minutes is outside 15-90
        out, _ = run(
            "occurrences", "prod", "--from", "2027-03-27", "--to", "2027-03-31",
            "--format", "json",
        )  # fmt: skip
    rows = json.loads(out)
    assert rows == [
        {
            "window": "nightly",
            "start": "2027-03-28T01:30:00Z",
            "end": "2027-03-28T03:30:00Z",
            "local_start": "2027-03-28T03:30:00+02:00",
            "status": "scheduled",
        },
        {
            "window": "nightly",
            "start": "2027-03-31T00:30:00Z",
            "end": "2027-03-31T02:30:00Z",
            "local_start": "2027-03-31T02:30:00+02:00",
            "status": "scheduled",
        },
    ]


@pytest.mark.django_db
def test_cli_lists_the_fold_day(cluster):
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        run("window", "add", "prod", "--weekday", "sun", "--start", "02:30",
            "--duration", "60", "--tz", "Europe/Berlin")  # fmt: skip
        out, _ = run("occurrences", "prod", "--from", "2026-10-25", "--to", "2026-10-25",
                     "--format", "json")  # fmt: skip
    (row,) = json.loads(out)
    assert row["start"] == "2026-10-25T00:30:00Z"
    assert row["end"] == "2026-10-25T01:30:00Z"


@pytest.mark.django_db
def test_cli_listing_past_days_creates_no_occurrence_that_never_happened(cluster, recipients):
    added = datetime(2027, 3, 7, 12, 0, tzinfo=UTC)  # Sunday noon, after that day's 02:30 slot
    with time_machine.travel(added, tick=False):
        run("window", "add", "prod", "--weekday", "sun", "--start", "02:30",
            "--duration", "60", "--tz", "Europe/Berlin")  # fmt: skip
        out, _ = run("occurrences", "prod", "--from", "2027-02-28", "--to", "2027-03-14",
                     "--format", "json")  # fmt: skip
    assert [row["start"] for row in json.loads(out)] == ["2027-03-14T01:30:00Z"]
    scheduler.tick(now=added + timedelta(hours=1))
    assert not Occurrence.objects.filter(local_date__lt=date(2027, 3, 14)).exists()
    assert not Reminder.objects.filter(kind="window_not_verified").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["window", "add", "nope", "--weekday", "sun", "--start", "02:00", "--duration", "60",
         "--tz", "UTC"],
        ["window", "add", "prod", "--weekday", "sun", "--start", "02:00", "--duration", "60",
         "--tz", "Mars/Olympus"],
        ["window", "add", "prod", "--weekday", "funday", "--start", "02:00", "--duration", "60",
         "--tz", "UTC"],
        ["window", "add", "prod", "--weekday", "sun", "--start", "02:00", "--duration", "500",
         "--tz", "UTC"],
        ["window", "add", "prod", "--weekday", "sun", "--start", "25:00", "--duration", "60",
         "--tz", "UTC"],
        ["backup", "add", "prod", "orders", "--every", "120"],
        ["backup", "validate", "prod", "missing", "--evidence", "x"],
        ["checklist", "start", "prod", "--template", "switchover", "--at", "2027-04-01T10:00",
         "--tz", "Nowhere/City"],
        ["checklist", "start", "prod", "--template", "switchover", "--at", "2027-04-01T10:00",
         "--tz", "UTC", "--dns-name", "app example.com"],
        ["checklist", "start", "prod", "--template", "switchover", "--at", "2027-04-01T10:00",
         "--tz", "UTC", "--dns-name", "app-.example.com"],
        ["occurrences", "prod", "--from", "2027-02-30", "--to", "2027-03-01"],
    ],
)  # fmt: skip
def test_cli_rejects_bad_input_with_exit_2_and_stores_nothing(cluster, args):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert str(caught.value)
    assert not Window.objects.exists()
    assert not Occurrence.objects.exists()
    assert not cluster.backups.exists()
    assert not cluster.checklist_runs.exists()
