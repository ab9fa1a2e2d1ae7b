"""The calendar says which days are skipped: freezes and months without a monthly window's day."""

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.urls import reverse

from clusters.models import Cluster
from maintenance import freezes, services

NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_month_view_marks_freezes_and_a_missing_31st(client, viewer):
    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    services.window_create(
        cluster=cluster, rrule="FREQ=MONTHLY;BYMONTHDAY=31", start_time=time(3, 0),
        duration_minutes=60, tz="UTC", now=NOW, name="month end",
    )  # fmt: skip
    freezes.freeze_add(name="easter freeze", first_day=date(2027, 4, 10), now=NOW)
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
    services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="UTC", now=NOW, name="sunday",
    )  # fmt: skip
    freezes.freeze_add(name="skip", first_day=date(2027, 4, 11), now=NOW, cluster=cluster)
    from django.test import Client

    with time_machine.travel(NOW, tick=False):
        body = Client().get(reverse("maintenance:calendar", args=[cluster.calendar_token])).content
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    skipped = [e for e in events if str(e["uid"]).startswith("skipped-")]
    assert [e.decoded("dtstart") for e in skipped] == [date(2027, 4, 11)]
    assert "Freeze: skip (prod)" in str(skipped[0]["description"])
    starts = {e.decoded("dtstart").date() for e in events if "occurrence-" in str(e["uid"])}
    assert date(2027, 4, 11) not in starts and date(2027, 4, 18) in starts
