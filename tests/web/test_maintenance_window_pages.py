"""A window's page (edit, delete), cancelling and restoring one occurrence from the calendar,
the freezes page and the restore-test evidence on the backups page: viewers read, operators
change, bad input changes nothing and is shown again as typed."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from clusters.models import Cluster
from maintenance.models import BackupValidation, Freeze, Occurrence, Window
from maintenance.services import backups as backup_services
from maintenance.services import occurrences as occurrence_services
from maintenance.services import windows as window_services

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.fixture
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def window(frozen_clock):
    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    return window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="Europe/Berlin", now=NOW, name="sunday",
    )  # fmt: skip


def edit_data(**changes):
    data = {"name": "sunday", "kind": "weekly", "weekdays": ["sun"], "start_time": "03:00",
            "duration_minutes": "60", "tz": "Europe/Berlin"}  # fmt: skip
    return data | changes


def test_a_viewer_reads_every_page_and_sees_no_control(client, viewer, window):
    client.force_login(viewer)
    occurrence = window.occurrences.first()
    occurrence_services.occurrence_cancel(
        occurrence=window.occurrences.get(local_date=date(2027, 4, 11)),
        now=NOW,
        reason="<b>release</b> day",
    )
    pages = {
        "calendar": client.get(reverse("maintenance:overview") + "?view=month&date=2027-04-01"),
        "window": client.get(reverse("maintenance:window", args=[window.pk])),
        "occurrence": client.get(reverse("maintenance:occurrence", args=[occurrence.pk])),
        "freezes": client.get(reverse("maintenance:freezes")),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        text = page.text
        for control in ("occurrence_cancel", "/cancel/", "/restore/", "/edit/", "/delete/",
                        "freezes/add/", 'name="reason"'):  # fmt: skip
            assert control not in text, (name, control)
    window_page = pages["window"].text
    assert "Weekly on sun" in window_page and "Europe/Berlin" in window_page
    # the reason is shown to everyone, escaped
    assert "Cancelled: &lt;b&gt;release&lt;/b&gt; day" in pages["calendar"].text


def test_a_viewer_changes_nothing(client, viewer, window):
    client.force_login(viewer)
    occurrence = window.occurrences.first()
    freeze = Freeze.objects.create(
        name="kept", first_day=date(2027, 12, 20), last_day=date(2027, 12, 21), created_at=NOW
    )
    posts = [
        (reverse("maintenance:window_edit", args=[window.pk]), edit_data(start_time="05:00")),
        (reverse("maintenance:window_delete", args=[window.pk]), {"confirm": "sunday"}),
        (reverse("maintenance:occurrence_cancel", args=[occurrence.pk]), {"reason": "x"}),
        (reverse("maintenance:occurrence_restore", args=[occurrence.pk]), {}),
        (reverse("maintenance:freeze_add"), {"name": "x", "first_day": "2027-04-04"}),
        (reverse("maintenance:freeze_delete", args=[freeze.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert Window.objects.get(pk=window.pk).start_time == time(3, 0)
    assert not Occurrence.objects.filter(status="cancelled").exists()
    assert list(Freeze.objects.values_list("name", flat=True)) == ["kept"]


def test_an_operator_edits_a_window_and_a_bad_entry_changes_nothing(client, operator, window):
    client.force_login(operator)
    url = reverse("maintenance:window_edit", args=[window.pk])
    page = client.get(reverse("maintenance:window", args=[window.pk]))
    assert 'value="sunday"' in page.text and 'value="sun" checked' in page.text
    rows = list(window.occurrences.values_list("pk", "start"))
    for bad, message in (
        ({"tz": "Mars/Olympus"}, "IANA"),
        ({"kind": "custom", "rrule": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2"}, "never occurs"),
        ({"kind": "custom", "rrule": "FREQ=HOURLY"}, "FREQ"),
        ({"start_time": "25:99"}, "HH:MM"),
    ):
        response = client.post(url, edit_data(**bad))
        assert response.status_code == 400, bad
        assert message in response.text, bad
        assert "Nothing was changed" in response.text
        for value in bad.values():
            assert f'value="{value}"' in response.text, value  # shown again as typed
    assert list(window.occurrences.values_list("pk", "start")) == rows
    assert not AuditEvent.objects.filter(action="window.update").exists()

    response = client.post(url, edit_data(kind="monthly_weekday", ordinal="-1", weekday="sun",
                                          start_time="02:30", name="last sunday"))  # fmt: skip
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.rrule, window.name) == ("FREQ=MONTHLY;BYDAY=-1SU", "last sunday")
    gap = window.occurrences.get(local_date=date(2027, 4, 25))
    assert gap.start == datetime(2027, 4, 25, 0, 30, tzinfo=UTC)
    assert AuditEvent.objects.filter(action="window.update", actor="otto").exists()


def test_an_operator_deletes_a_window_after_typing_its_name(client, operator, window):
    client.force_login(operator)
    url = reverse("maintenance:window_delete", args=[window.pk])
    assert client.post(url, {"confirm": "monday"}).status_code == 400
    assert Window.objects.filter(pk=window.pk).exists()
    assert client.post(url, {"confirm": "sunday"}).status_code == 302
    assert not Window.objects.filter(pk=window.pk).exists()  # no history yet: gone


def test_an_operator_cancels_and_restores_one_occurrence_from_the_calendar(
    client, operator, viewer, window
):
    client.force_login(operator)
    calendar = reverse("maintenance:overview") + "?view=month&date=2027-04-01"
    page = client.get(calendar)
    target = window.occurrences.get(local_date=date(2027, 4, 11))
    assert reverse("maintenance:occurrence_cancel", args=[target.pk]) in page.text
    cancel = reverse("maintenance:occurrence_cancel", args=[target.pk])
    response = client.post(cancel, {"reason": "  ", "next": calendar})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == "scheduled"  # no reason: refused
    response = client.post(cancel, {"reason": "release day", "next": calendar})
    assert response.url == calendar
    target.refresh_from_db()
    assert (target.status, target.cancelled_reason) == ("cancelled", "release day")
    elsewhere = client.post(
        reverse("maintenance:occurrence_restore", args=[target.pk]),
        {"next": "https://evil.example.org/"},
    )
    assert elsewhere.url == reverse("maintenance:occurrence", args=[target.pk])  # not off-site
    target.refresh_from_db()
    assert target.status == "scheduled" and target.cancelled_reason == ""
    assert [
        e.action for e in AuditEvent.objects.filter(action__startswith="occurrence.").order_by("id")
    ] == [
        "occurrence.cancel",
        "occurrence.restore",
    ]
    past = window.occurrences.order_by("start").first()
    with time_machine.travel(past.start + timedelta(minutes=1), tick=False):
        client.post(reverse("maintenance:occurrence_cancel", args=[past.pk]), {"reason": "late"})
    past.refresh_from_db()
    assert past.status != "cancelled"  # started: refused


def test_freezes_page_adds_and_deletes_and_the_calendar_names_what_a_freeze_removed(
    client, operator, viewer, window
):
    client.force_login(operator)
    url = reverse("maintenance:freeze_add")
    everywhere = client.post(url, {"name": "easter", "first_day": "2027-04-10",
                                   "last_day": "2027-04-20", "cluster": ""})  # fmt: skip
    assert everywhere.status_code == 403 and not Freeze.objects.exists()  # global admins only
    bad = client.post(url, {"name": "easter", "first_day": "2027-04-20", "last_day": "2027-04-10",
                            "cluster": str(window.cluster_id)})  # fmt: skip
    assert bad.status_code == 400 and "before it starts" in bad.text
    assert 'value="easter"' in bad.text and not Freeze.objects.exists()
    client.post(url, {"name": "easter", "first_day": "2027-04-10", "last_day": "2027-04-20",
                      "cluster": str(window.cluster_id)})  # fmt: skip
    freeze = Freeze.objects.get()
    assert freeze.cluster_id == window.cluster_id
    cancelled = window.occurrences.filter(status="cancelled")
    assert {o.local_date for o in cancelled} == {date(2027, 4, 11), date(2027, 4, 18)}
    assert AuditEvent.objects.filter(action="freeze.create").exists()
    # a window created afterwards is kept out of the freeze: the calendar says what it removed
    window_services.window_create(
        cluster=window.cluster, weekdays="sat", start_time=time(22, 0), duration_minutes=60,
        tz="Europe/Berlin", now=NOW, name="saturday",
    )  # fmt: skip
    client.force_login(viewer)
    text = client.get(reverse("maintenance:overview") + "?view=month&date=2027-04-01").text
    assert text.count("Removed by freeze easter: prod · saturday 22:00 Europe/Berlin") == 2
    assert "Cancelled: freeze: easter" in text
    assert "easter" in client.get(reverse("maintenance:freezes")).text
    client.force_login(operator)
    client.post(reverse("maintenance:freeze_delete", args=[freeze.pk]))
    assert not Freeze.objects.exists()
    assert not window.occurrences.filter(status="cancelled").exists()
    assert AuditEvent.objects.filter(action="freeze.delete").exists()


def test_the_backups_page_shows_each_tests_evidence_escaped(client, viewer, window):
    backup = backup_services.backup_create(
        cluster=window.cluster, name="orders", interval_days=60, now=NOW
    )
    BackupValidation.objects.create(
        backup=backup, validated_at=NOW, recorded_at=NOW, outcome="passed",
        source="restic-check", duration_seconds=12.5, snapshot_at=NOW - timedelta(hours=3),
        snapshot_bytes=5 * 1024 * 1024, evidence="restic check: <script>alert(1)</script>",
        validated_by_name="manage.py",
    )  # fmt: skip
    client.force_login(viewer)
    text = client.get(reverse("maintenance:backups")).text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for shown in ("restic-check", "5.0\xa0MB", "12.5 s", "2027-04-01 09:00", "Passed"):
        assert shown in text, shown


def test_calendar_freezes_and_backups_pages_use_a_constant_number_of_queries(
    client, viewer, window
):
    client.force_login(viewer)
    urls = [
        reverse("maintenance:overview") + "?view=month&date=2027-04-01",
        reverse("maintenance:freezes"),
        reverse("maintenance:backups"),
    ]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries))
        return result

    def more(n):
        cluster = Cluster.objects.create(name=f"c{n}", url="unix:///nonexistent.sock")
        window_services.window_create(
            cluster=cluster, rrule="FREQ=MONTHLY;BYMONTHDAY=31", start_time=time(3, 0),
            duration_minutes=60, tz="UTC", now=NOW, name=f"w{n}",
        )  # fmt: skip
        Freeze.objects.create(name=f"f{n}", cluster=cluster, first_day=date(2027, 4, n + 1),
                              last_day=date(2027, 4, n + 3), created_at=NOW)  # fmt: skip
        backup = backup_services.backup_create(cluster=cluster, name="b", interval_days=60,
                                               now=NOW)  # fmt: skip
        backup_services.backup_validate(backup=backup, evidence="restored", passed=True, now=NOW)

    more(1)
    before = counts()
    for n in range(2, 6):
        more(n)
    assert counts() == before
