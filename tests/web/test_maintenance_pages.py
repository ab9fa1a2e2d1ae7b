"""Maintenance pages: everyone with a role reads them; only operators change anything."""

from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster
from maintenance.models import Backup, ChecklistRun, Occurrence, Window
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import outbox, reminders
from maintenance.services import windows as window_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(db):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    now = timezone.now()
    window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(2, 30), duration_minutes=60,
        tz="Europe/Berlin", name="weekly", now=now,
    )  # fmt: skip
    backup = backup_services.backup_create(
        cluster=cluster, name="orders", interval_days=60, now=now
    )
    run = checklist_services.checklist_start(cluster=cluster, template="switchover",
                                   target=(now + timedelta(days=3)).replace(tzinfo=None),
                                   tz="UTC", now=now)  # fmt: skip
    return cluster, backup, run


def test_every_page_renders_for_a_viewer(client, viewer, setup):
    cluster, backup, run = setup
    client.force_login(viewer)
    occurrence = Occurrence.objects.first()
    for url in (reverse("maintenance:overview"), reverse("maintenance:overview") + "?view=month",
                reverse("maintenance:occurrence", args=[occurrence.pk]),
                reverse("maintenance:backups"), reverse("maintenance:checklists"),
                reverse("maintenance:checklist", args=[run.pk]),
                reverse("maintenance:reminders")):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("maintenance:outbox")).status_code == 403  # global admins only


def test_a_viewer_changes_nothing(client, viewer, setup):
    cluster, backup, run = setup
    client.force_login(viewer)
    step = run.steps.order_by("position").first()
    occurrence = Occurrence.objects.first()
    posts = [
        (reverse("maintenance:window_create"), {"cluster": cluster.pk, "weekdays": "mon",
         "start_time": "01:00", "duration_minutes": "30", "tz": "UTC", "name": "x"}),
        (reverse("maintenance:occurrence_confirm", args=[occurrence.pk]), {"note": "x"}),
        (reverse("maintenance:backup_validate", args=[backup.pk]), {"evidence": "x"}),
        (reverse("maintenance:checklist_start"), {"cluster": cluster.pk}),
        (reverse("maintenance:step_tick", args=[step.pk]), {}),
    ]  # fmt: skip
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert Window.objects.count() == 1 and ChecklistRun.objects.count() == 1
    step.refresh_from_db()
    assert not step.done
    assert not Backup.objects.get(pk=backup.pk).validations.exists()


def test_an_operator_creates_a_window_and_a_bad_zone_stores_nothing(client, operator, setup):
    cluster, _, _ = setup
    client.force_login(operator)
    data = {"cluster": cluster.pk, "weekdays": ["wed"], "start_time": "03:00",
            "duration_minutes": "45", "tz": "Mars/Olympus", "name": "midweek"}  # fmt: skip
    response = client.post(reverse("maintenance:window_create"), data)
    assert response.status_code == 400
    assert "not an IANA time zone" in response.text
    assert not Window.objects.filter(name="midweek").exists()
    # what was entered is shown again, not lost
    assert 'value="Mars/Olympus"' in response.text and 'value="midweek"' in response.text
    assert 'value="45"' in response.text and 'value="wed" checked' in response.text
    assert 'value="sun" checked' not in response.text
    bad_time = client.post(reverse("maintenance:window_create"), data | {"start_time": "25:99"})
    assert bad_time.status_code == 400 and "HH:MM" in bad_time.text
    assert 'value="25:99"' in bad_time.text
    data["tz"] = "America/New_York"
    client.post(reverse("maintenance:window_create"), data)
    assert Window.objects.filter(name="midweek", tz="America/New_York").exists()


def test_a_rejected_restore_test_shows_the_error_in_its_row_and_stores_nothing(
    client, operator, setup
):
    _, backup, _ = setup
    client.force_login(operator)
    url = reverse("maintenance:backup_validate", args=[backup.pk])
    response = client.post(url, {"evidence": "   ", "outcome": "failed"})
    assert response.status_code == 400
    assert "Evidence is required" in response.text
    assert '<option value="failed" selected>' in response.text
    assert not backup.validations.exists()


def test_a_rejected_checklist_start_keeps_what_was_entered(client, operator, setup):
    cluster, _, _ = setup
    client.force_login(operator)
    data = {"template": "switchover", "cluster": str(cluster.pk), "target": "2027-03-01T09:30",
            "tz": "Mars/Olympus", "dns_hostname": "shop.example.com"}  # fmt: skip
    before = ChecklistRun.objects.count()
    response = client.post(reverse("maintenance:checklist_start"), data)
    assert response.status_code == 400
    assert 'value="Mars/Olympus"' in response.text
    assert (
        'value="shop.example.com"' in response.text and 'value="2027-03-01T09:30"' in response.text
    )
    assert ChecklistRun.objects.count() == before
    response = client.post(reverse("maintenance:checklist_start"), data | {"target": "soon"})
    assert response.status_code == 400 and "date and time" in response.text
    assert ChecklistRun.objects.count() == before
    response = client.post(
        reverse("maintenance:checklist_start"),
        data | {"tz": "UTC", "dns_hostname": "<b>not a host</b>"},
    )
    assert response.status_code == 400 and "is not a DNS name" in response.text
    assert "<b>not a host</b>" not in response.text  # shown back escaped
    assert "&lt;b&gt;not a host&lt;/b&gt;" in response.text
    assert ChecklistRun.objects.count() == before


def test_the_page_warns_about_a_window_outside_15_to_90_minutes(client, operator, setup):
    cluster, _, _ = setup
    client.force_login(operator)
    data = {"cluster": cluster.pk, "weekdays": ["sat"], "start_time": "01:00", "tz": "UTC"}
    long = client.post(
        reverse("maintenance:window_create"),
        data | {"duration_minutes": "120", "name": "long"},
        follow=True,
    )
    assert long.status_code == 200
    assert "usually set aside 15-90 minutes a week; this window is 120" in long.text
    assert Window.objects.get(name="long").duration_minutes == 120  # a warning, not a refusal
    usual = client.post(
        reverse("maintenance:window_create"),
        data | {"duration_minutes": "90", "name": "usual"},
        follow=True,
    )
    assert "usually set aside" not in usual.text
    too_long = client.post(
        reverse("maintenance:window_create"), data | {"duration_minutes": "481", "name": "x"}
    )
    assert too_long.status_code == 400 and "5 to 480 minutes" in too_long.text
    assert not Window.objects.filter(name="x").exists()


def test_an_operator_ticks_a_step_with_a_note(client, operator, viewer, setup):
    _, _, run = setup
    step = run.steps.order_by("position").first()
    note_input = f'<input form="tick-{step.pk}" name="note"'
    client.force_login(viewer)
    assert note_input not in client.get(reverse("maintenance:checklist", args=[run.pk])).text
    client.force_login(operator)
    page = client.get(reverse("maintenance:checklist", args=[run.pk])).text
    assert f'id="tick-{step.pk}"' in page and note_input in page
    row = client.post(
        reverse("maintenance:step_tick", args=[step.pk]),
        {"done": "1", "note": "dump restored on staging <ok>"},
        headers={"HX-Request": "true"},
    )
    assert row.status_code == 200
    assert "by otto: dump restored on staging &lt;ok&gt;" in row.text
    assert note_input not in row.text  # done: nothing left to note
    step.refresh_from_db()
    assert (step.done, step.done_by, step.note) == (True, operator, "dump restored on staging <ok>")


def test_without_smtp_a_sent_reminder_is_shown_in_the_outbox(
    client, admin_user, settings, tmp_path
):
    from clusters.models import Recipient

    settings.EMAIL_OUTBOX_DIR = tmp_path
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(tmp_path)},
        }
    }
    cluster = Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    Recipient.objects.create(cluster=cluster, email="ops@example.org")
    now = timezone.now()
    reminders.notification_enqueue(
        cluster=cluster, kind="critical_finding", subject_key="finding:1",
        title="[lab] new critical finding <b>web</b>", body="The web service runs as root.",
        now=now,
    )  # fmt: skip
    assert outbox.reminders_send_due(now=now).sent == 1
    client.force_login(admin_user)
    page = client.get(reverse("maintenance:outbox")).text
    assert "The web service runs as root." in page
    assert "new critical finding &lt;b&gt;web&lt;/b&gt;" in page and "<b>web</b>" not in page
    message_id = reminders.message_id_for("critical_finding|finding:1|-|ops@example.org")
    assert message_id.replace("<", "&lt;").replace(">", "&gt;") in page
