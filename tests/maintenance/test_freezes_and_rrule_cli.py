"""Freeze periods and skip dates against the database; the RRULE and one-off command line."""

from datetime import UTC, date, datetime, time
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from maintenance.models import Freeze, Occurrence, Window
from maintenance.services import freezes as freeze_services
from maintenance.services import windows as window_services

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("maintenance", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_a_freeze_removes_exactly_the_occurrences_inside_it(cluster):
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="Europe/Berlin", now=NOW, name="sunday",
    )  # fmt: skip
    before = set(window.occurrences.values_list("local_date", flat=True))
    freeze, cancelled = freeze_services.freeze_add(
        name="year end", first_day=date(2026, 12, 20), last_day=date(2027, 1, 3), now=NOW
    )
    inside = {date(2026, 12, 20), date(2026, 12, 27), date(2027, 1, 3)}
    assert cancelled == 3
    assert (
        set(window.occurrences.filter(status="cancelled").values_list("local_date", flat=True))
        == inside
    )
    assert all(
        o.cancelled_reason == "freeze: year end"
        for o in window.occurrences.filter(status="cancelled")
    )
    scheduled = set(
        window.occurrences.filter(status="scheduled").values_list("local_date", flat=True)
    )
    assert scheduled == before - inside
    # a new window is not materialised inside the freeze at all
    other = window_services.window_create(
        cluster=cluster, rrule="FREQ=WEEKLY;BYDAY=SA", start_time=time(3, 0),
        duration_minutes=60, tz="Europe/Berlin", now=NOW, name="saturday",
    )  # fmt: skip
    days = set(other.occurrences.values_list("local_date", flat=True))
    assert not {d for d in days if date(2026, 12, 20) <= d <= date(2027, 1, 3)}
    assert date(2026, 12, 19) in days and date(2027, 1, 9) in days
    # deleting it brings the cancelled ones back and materialises the missing days
    assert freeze_services.freeze_delete(freeze=freeze, now=NOW) == 3
    assert not window.occurrences.filter(status="cancelled").exists()
    assert other.occurrences.filter(local_date=date(2026, 12, 26)).exists()


@pytest.mark.django_db
def test_a_freeze_of_another_cluster_changes_nothing_here(cluster):
    from clusters.models import Cluster

    elsewhere = Cluster.objects.create(name="staging", url="unix:///nonexistent.sock")
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="UTC", now=NOW,
    )  # fmt: skip
    _, cancelled = freeze_services.freeze_add(
        name="staging only", first_day=date(2026, 12, 6), now=NOW, cluster=elsewhere
    )
    assert cancelled == 0
    assert window.occurrences.get(local_date=date(2026, 12, 6)).status == "scheduled"


@pytest.mark.django_db
def test_cli_adds_rrule_and_once_windows_and_prints_the_id(cluster):
    with time_machine.travel(NOW, tick=False):
        out, _ = run("window", "add", "prod", "--rrule", "FREQ=MONTHLY;BYDAY=2TU", "--start",
                     "02:30", "--duration", "60", "--tz", "Europe/Berlin")  # fmt: skip
        window = Window.objects.get(pk=int(out.splitlines()[0]))
        assert window.rrule == "FREQ=MONTHLY;BYDAY=2TU"
        assert window.occurrences.first().local_date == date(2026, 12, 8)
        out, _ = run("window", "add", "prod", "--once", "2026-12-12", "--start", "04:00",
                     "--duration", "60", "--tz", "UTC")  # fmt: skip
        once = Window.objects.get(pk=int(out.splitlines()[0]))
        assert list(once.occurrences.values_list("local_date", flat=True)) == [date(2026, 12, 12)]
        out, _ = run("freeze", "add", "xmas", "--from", "2026-12-24", "--to", "2026-12-26")
        assert Freeze.objects.get(pk=int(out.splitlines()[0])).cluster is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind",
    [
        ["--rrule", "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2"],
        ["--rrule", "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261101"],
        ["--rrule", "FREQ=SECONDLY"],
        ["--rrule", "FREQ=MONTHLY;BYDAY=2XX"],
        ["--once", "2026-11-30"],
        ["--once", "2026-02-30"],
    ],
)
def test_cli_refuses_a_rule_that_is_invalid_or_never_occurs(cluster, kind):
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(CommandError) as caught:
            run("window", "add", "prod", *kind, "--start", "02:30", "--duration", "60",
                "--tz", "Europe/Berlin")  # fmt: skip
    assert caught.value.returncode == 2
    assert not Window.objects.exists() and not Occurrence.objects.exists()


@pytest.mark.django_db
def test_cli_refuses_a_freeze_that_ends_before_it_starts(cluster):
    with pytest.raises(CommandError) as caught:
        run("freeze", "add", "bad", "--from", "2027-01-03", "--to", "2026-12-20")
    assert caught.value.returncode == 2
    assert not Freeze.objects.exists()
