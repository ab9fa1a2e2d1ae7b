"""The words of every reminder the scheduler writes, exactly (they are templates under
templates/maintenance/email/; the mail sent is the stored title and body)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from clusters.models import Cluster, Recipient
from maintenance.models import Occurrence, Reminder
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import outbox, reminders
from maintenance.services import windows as window_services

NOW = datetime(2027, 5, 6, 9, 0, tzinfo=UTC)  # a Thursday


@pytest.fixture
def world(db):
    """A cluster whose name needs escaping in HTML (never in a plain-text mail)."""
    cluster = Cluster.objects.create(name="prod&<co>", url="unix:///nonexistent.sock")
    Recipient.objects.create(cluster=cluster, email="ops@example.org")
    window = window_services.window_create(
        cluster=cluster, weekdays="sat", start_time=time(2, 30), duration_minutes=60,
        tz="Europe/Berlin", name="sat <night>", now=NOW - timedelta(days=1),
    )  # fmt: skip
    past = window_services.window_create(
        cluster=cluster, weekdays="mon,tue", start_time=time(22, 0), duration_minutes=90,
        tz="UTC", name="early week", now=datetime(2027, 5, 2, tzinfo=UTC),
    )  # fmt: skip
    monday = past.occurrences.get(local_date=date(2027, 5, 3))
    monday.status = Occurrence.Status.MISSED
    monday.end = NOW - timedelta(hours=1)
    monday.save()
    tuesday = past.occurrences.get(local_date=date(2027, 5, 4))
    tuesday.status = Occurrence.Status.PARTIAL
    tuesday.end = NOW - timedelta(hours=2)
    tuesday.expected_nodes = {"id-b": "", "id-a": "node-a"}
    tuesday.save()
    for name, days_ago in (("orders", 80), ("ledger", 100), ("files", None)):
        backup_services.backup_create(
            cluster=cluster, name=name, now=NOW - timedelta(hours=1), interval_days=90,
            validated_at=NOW - timedelta(days=days_ago) if days_ago else None,
        )  # fmt: skip
    run = checklist_services.checklist_start(
        cluster=cluster, template="switchover", target=datetime(2027, 5, 12, 10, 0),
        tz="Europe/Berlin", now=NOW - timedelta(days=10),
    )  # fmt: skip
    run.steps.exclude(key="restore-test").update(done=True)
    return cluster, window


def texts():
    """(kind, title, body) of every reminder, sorted by their words (subject keys hold ids,
    whose text order depends on how many rows the database numbered before)."""
    return sorted((row.kind, row.title, row.body) for row in Reminder.objects.all())


@pytest.mark.django_db
def test_it_writes_every_reminder_in_these_exact_words(world):
    cluster, window = world
    upcoming = window.occurrences.order_by("start").first()
    assert reminders.occurrence_reminders_enqueue(now=upcoming.start - timedelta(hours=30)) == 3
    assert reminders.backup_reminders_enqueue(now=NOW) == 3
    assert reminders.checklist_reminders_enqueue(now=NOW) == 1
    assert texts() == sorted(
        [
            (
                "backup_due_soon",
                "[prod&<co>] restore test of orders is due soon",
                "The restore test of backup orders on cluster prod&<co> is due soon "
                "(due 2027-05-16; every 90 days).\nLast passed test: 2027-02-15 UTC.\n",
            ),
            (
                "backup_overdue",
                "[prod&<co>] restore test of ledger is overdue",
                "The restore test of backup ledger on cluster prod&<co> is overdue "
                "(due 2027-04-26; every 90 days).\nLast passed test: 2027-01-26 UTC.\n",
            ),
            (
                "backup_overdue",
                "[prod&<co>] restore test of files is overdue",
                "The backup files on cluster prod&<co> has never had a validated restore test.\n",
            ),
            (
                "checklist_step_due",
                "[prod&<co>] Production switchover: T-7d Restore a database dump from the current "
                "environment into the new one",
                "Checklist Production switchover for cluster prod&<co> "
                "(target 2027-05-12 08:00 UTC, "
                "Europe/Berlin).\nStep T-7d was due 2027-05-05 08:00 UTC and is not done:\n"
                "  Restore a database dump from the current environment into the new one\n",
            ),
            (
                "window_not_verified",
                "[prod&<co>] reboots not verified in window early week",
                "The maintenance window early week (2027-05-04T22:00:00+00:00) ended partial. "
                "Nodes not seen rebooting:\n- id-b\n- node-a\n\n"
                "Reboot them, or confirm a reboot with a note in Watchkeeper.\n",
            ),
            (
                "window_not_verified",
                "[prod&<co>] reboots not verified in window early week",
                "The maintenance window early week (2027-05-03T22:00:00+00:00) ended missed. "
                "Nodes not seen rebooting:\n- (no node list known)\n\n"
                "Reboot them, or confirm a reboot with a note in Watchkeeper.\n",
            ),
            (
                "window_upcoming",
                "[prod&<co>] maintenance window sat <night> in 30 h",
                "Maintenance window sat <night> on cluster prod&<co> starts at "
                "2027-05-08T02:30:00+02:00 (2027-05-08 00:30 UTC) and lasts 60 minutes.\n\n"
                "Rolling reboot plan:\nNo snapshot of the cluster yet: no reboot plan.\n",
            ),
        ]
    )


@pytest.mark.django_db
def test_the_mail_sent_is_the_stored_title_and_body_with_its_message_id(world, locmem):
    reminders.backup_reminders_enqueue(now=NOW)
    assert outbox.reminders_send_due(now=NOW).sent == 3
    stored = {row.message_id: row for row in Reminder.objects.all()}
    assert len(locmem) == 3
    for mail in locmem:
        row = stored[mail.extra_headers["Message-ID"]]
        assert (mail.subject, mail.body, mail.to) == (row.title, row.body, ["ops@example.org"])
        assert mail.extra_headers["X-Watchkeeper-Kind"] == row.kind
