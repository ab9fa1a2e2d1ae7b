"""The calendar says which days are skipped: freezes and months without a monthly window's day."""

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.urls import reverse

from clusters.models import Cluster
from maintenance.services import freezes as freeze_services
from maintenance.services import windows as window_services

NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_month_view_marks_freezes_and_a_missing_31st(client, viewer):
    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    window_services.window_create(
        cluster=cluster, rrule="FREQ=MONTHLY;BYMONTHDAY=31", start_time=time(3, 0),
        duration_minutes=60, tz="UTC", now=NOW, name="month end",
    )  # fmt: skip
    freeze_services.freeze_add(name="easter freeze", first_day=date(2027, 4, 10), now=NOW)
    with time_machine.travel(NOW, tick=False):
        client.force_login(viewer)
        page = client.get(reverse("maintenance:overview") + "?view=month&date=2027-04-01")
    assert page.status_code == 200
    text = page.content.decode()
    assert "prod · month end: April has no 31st: skipped" in text
    assert "Freeze: easter freeze (all clusters), no maintenance" in text
    assert text.count("data-skipped") == 2


@pytest.mark.django_db
def test_the_ical_feed_marks_skipped_days():
    import icalendar

    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="UTC", now=NOW, name="sunday",
    )  # fmt: skip
    freeze_services.freeze_add(name="skip", first_day=date(2027, 4, 11), now=NOW, cluster=cluster)
    from django.test import Client

    with time_machine.travel(NOW, tick=False):
        body = Client().get(reverse("maintenance:calendar", args=[cluster.calendar_token])).content
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    skipped = [e for e in events if str(e["uid"]).startswith("skipped-")]
    assert [e.decoded("dtstart") for e in skipped] == [date(2027, 4, 11)]
    assert "Freeze: skip (prod)" in str(skipped[0]["description"])
    occurrences = {e.decoded("dtstart").date(): e for e in events if "occurrence-" in str(e["uid"])}
    # the occurrence the freeze cancelled stays in the feed, cancelled, with the reason
    frozen = occurrences[date(2027, 4, 11)]
    assert str(frozen["status"]) == "CANCELLED"
    assert "Reason: freeze: skip" in str(frozen["description"])
    assert str(occurrences[date(2027, 4, 18)]["status"]) == "CONFIRMED"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"kind": "monthly_weekday", "ordinal": "-1", "weekday": "sun"}, "FREQ=MONTHLY;BYDAY=-1SU"),
        ({"kind": "monthly_day", "month_day": "31"}, "FREQ=MONTHLY;BYMONTHDAY=31"),
        ({"kind": "every_n_weeks", "interval": "2", "weekdays": ["sun"]},
         "FREQ=WEEKLY;BYDAY=SU;INTERVAL=2"),
        ({"kind": "once", "once": "2027-04-20"}, "FREQ=DAILY;COUNT=1"),
        ({"kind": "custom", "rrule": "FREQ=MONTHLY;BYDAY=2TU"}, "FREQ=MONTHLY;BYDAY=2TU"),
    ],
)  # fmt: skip
def test_the_window_form_creates_every_kind(client, operator, fields, rule):
    from maintenance.models import Window

    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    data = {"cluster": cluster.pk, "start_time": "03:00", "duration_minutes": "60", "tz": "UTC"}
    with time_machine.travel(NOW, tick=False):
        client.force_login(operator)
        response = client.post(reverse("maintenance:window_create"), {**data, **fields})
    assert response.status_code == 302
    assert Window.objects.get().rrule == rule


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "custom", "rrule": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2"},
        {"kind": "custom", "rrule": "FREQ=HOURLY"},
        {"kind": "monthly_day", "month_day": "0"},
        {"kind": "once", "once": "2027-03-01"},
        {"kind": "every_n_weeks", "interval": "1", "weekdays": ["sun"]},
    ],
)
def test_the_window_form_refuses_a_bad_or_never_occurring_rule(client, operator, fields):
    from maintenance.models import Window

    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    data = {"cluster": cluster.pk, "start_time": "03:00", "duration_minutes": "60", "tz": "UTC"}
    with time_machine.travel(NOW, tick=False):
        client.force_login(operator)
        response = client.post(reverse("maintenance:window_create"), {**data, **fields})
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert not Window.objects.exists()
