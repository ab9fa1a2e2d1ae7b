"""Editing and deleting windows: the future is re-materialised, reminders are never repeated
for the same instant, unchanged occurrences keep their rows, history stays. Mail goes
through the real SMTP test server."""

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from maintenance.models import Occurrence, Reminder, Window
from maintenance.services import freezes as freeze_services
from maintenance.services import occurrences as occurrence_services
from maintenance.services import outbox
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

from .smtpserver import SMTPServer

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday; Sunday 2027-03-07 03:00 CET = 02:00Z
FIRST_OLD = datetime(2027, 3, 7, 2, 0, tzinfo=UTC)
FIRST_NEW = datetime(2027, 3, 7, 4, 0, tzinfo=UTC)  # 05:00 CET after the edit


@pytest.fixture
def smtp(settings):
    with SMTPServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 10},
            }
        }
        yield server.handler


def sunday_window(cluster, **kwargs):
    args = dict(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="Europe/Berlin", now=T0, name="sunday",
    )  # fmt: skip
    args.update(kwargs)
    return window_services.window_create(**args)


def mails_about(handler, utc_text: str) -> list:
    """Messages to ops@example.org whose body names the UTC start UTC_TEXT."""
    return [
        m
        for m in handler.messages
        if m["To"] == "ops@example.org" and f"({utc_text} UTC)" in m.get_payload()
    ]


@pytest.mark.django_db
def test_an_edited_start_is_reminded_once_and_the_old_one_never_again(cluster, recipients, smtp):
    window = sunday_window(cluster)
    first = window.occurrences.get(local_date=date(2027, 3, 7))
    assert first.start == FIRST_OLD
    past = window.occurrences.create(  # history: an occurrence that already happened
        local_date=date(2027, 2, 28), start=FIRST_OLD - timedelta(days=7),
        end=FIRST_OLD - timedelta(days=7, minutes=-60), local_start="2027-02-28T03:00:00+01:00",
        status=Occurrence.Status.COMPLETED,
    )  # fmt: skip
    scheduler.tick(now=FIRST_OLD - timedelta(hours=72))
    assert len(mails_about(smtp, "2027-03-07 02:00")) == 1  # the 72-hour reminder went

    edit_at = FIRST_OLD - timedelta(hours=60)
    window_services.window_update(window=window, now=edit_at, start_time=time(5, 0))
    moved = window.occurrences.get(local_date=date(2027, 3, 7))
    assert moved.pk != first.pk and moved.start == FIRST_NEW
    assert not Reminder.objects.filter(occurrence_id=first.pk).exists()  # sent rows: unlinked
    past.refresh_from_db()
    assert past.status == Occurrence.Status.COMPLETED and past.start == FIRST_OLD - timedelta(7)

    # every tick from the edit to the new start, minute by minute around each lead time
    moments = [edit_at, edit_at + timedelta(minutes=1)]
    for start in (FIRST_OLD, FIRST_NEW):
        for lead in (72 * 60, 24 * 60, 60):
            moments += [start - timedelta(minutes=lead + d) for d in (1, 0, -1)]
    for moment in sorted(m for m in moments if m >= edit_at):
        scheduler.tick(now=moment)

    assert len(mails_about(smtp, "2027-03-07 02:00")) == 1  # the old time: never again
    new = mails_about(smtp, "2027-03-07 04:00")
    assert [m["Subject"] for m in new] == [
        "[prod] maintenance window sunday in 62 h",  # once, right after the edit
        "[prod] maintenance window sunday in 24 h",
        "[prod] maintenance window sunday in 1 h",
    ]
    assert len(set(smtp.message_ids())) == len(smtp.messages)  # no message twice


@pytest.mark.django_db
def test_a_failed_reminder_of_a_moved_time_cannot_be_retried(cluster, recipients, operator):
    window = sunday_window(cluster)
    scheduler.occurrence_reminders_enqueue(now=FIRST_OLD - timedelta(hours=72))
    Reminder.objects.update(status=Reminder.Status.FAILED, last_error="550 no such mailbox")
    failed = Reminder.objects.first()
    at = FIRST_OLD - timedelta(hours=60)
    window_services.window_update(window=window, now=at, start_time=time(5, 0))
    assert outbox.reminder_retry(reminder_id=failed.pk, user=operator, now=at) is None
    assert Reminder.objects.get(pk=failed.pk).status == Reminder.Status.FAILED
    # a failed reminder of an unchanged time can be retried
    scheduler.occurrence_reminders_enqueue(now=at)
    fresh = Reminder.objects.filter(status=Reminder.Status.PENDING).first()
    Reminder.objects.filter(pk=fresh.pk).update(status=Reminder.Status.FAILED)
    assert outbox.reminder_retry(reminder_id=fresh.pk, user=operator, now=at) is not None


@pytest.mark.django_db
def test_moving_away_and_back_does_not_announce_the_same_instant_twice(cluster, recipients, smtp):
    window = sunday_window(cluster)
    scheduler.tick(now=FIRST_OLD - timedelta(hours=30))  # the first reminder (72 h lead)
    at = FIRST_OLD - timedelta(hours=29)
    window_services.window_update(window=window, now=at, weekdays="sat")
    window_services.window_update(window=window, now=at, weekdays="sun")
    back = window.occurrences.get(local_date=date(2027, 3, 7))
    assert back.start == FIRST_OLD
    scheduler.tick(now=at + timedelta(minutes=1))
    assert len(mails_about(smtp, "2027-03-07 02:00")) == 1
    scheduler.tick(now=FIRST_OLD - timedelta(hours=24))
    assert len(mails_about(smtp, "2027-03-07 02:00")) == 2  # the 24-hour one, as planned


@pytest.mark.django_db
def test_an_occurrence_whose_time_did_not_change_keeps_id_status_and_reminders(cluster, recipients):
    window = sunday_window(cluster)
    first = window.occurrences.get(local_date=date(2027, 3, 7))
    cancelled = window.occurrences.get(local_date=date(2027, 3, 14))
    occurrence_services.occurrence_cancel(occurrence=cancelled, now=T0, reason="release day")
    scheduler.occurrence_reminders_enqueue(now=FIRST_OLD - timedelta(hours=70))
    pending = set(Reminder.objects.filter(occurrence=first).values_list("pk", flat=True))
    assert pending
    window_services.window_update(window=window, now=T0, weekdays="wed,sun", name="twice")
    first.refresh_from_db()  # still there, same id
    assert first.start == FIRST_OLD and first.status == Occurrence.Status.SCHEDULED
    assert set(Reminder.objects.filter(occurrence=first).values_list("pk", flat=True)) == pending
    again = window.occurrences.get(pk=cancelled.pk)
    assert (again.status, again.cancelled_reason) == ("cancelled", "release day")
    assert window.occurrences.filter(local_date=date(2027, 3, 10)).exists()  # a new Wednesday
    event = AuditEvent.objects.get(action="window.update")
    assert event.before["rrule"] == "FREQ=WEEKLY;BYDAY=SU"
    assert event.after["rrule"] == "FREQ=WEEKLY;BYDAY=WE,SU"


@pytest.mark.django_db
def test_an_unchanged_occurrence_a_freeze_cancelled_stays_as_it_is(cluster):
    window = sunday_window(cluster)
    _, cancelled = freeze_services.freeze_add(
        name="release", first_day=date(2027, 3, 14), now=T0, cluster=cluster
    )
    assert cancelled == 1
    frozen = window.occurrences.get(local_date=date(2027, 3, 14))
    window_services.window_update(window=window, now=T0, duration_minutes=60, name="renamed")
    assert window.occurrences.get(local_date=date(2027, 3, 14)).pk == frozen.pk
    window_services.window_update(window=window, now=T0, duration_minutes=90)
    assert not window.occurrences.filter(local_date=date(2027, 3, 14)).exists()  # frozen day
    assert window.occurrences.get(local_date=date(2027, 3, 21)).end == datetime(
        2027, 3, 21, 3, 30, tzinfo=UTC
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tz": "Mars/Olympus"}, "IANA"),
        ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2"}, "never occurs"),
        ({"rrule": "FREQ=HOURLY"}, "FREQ"),
        ({"weekdays": "funday"}, "weekday"),
        ({"duration_minutes": 481}, "out of range"),
        ({"once": date(2027, 1, 1)}, "never occurs"),
    ],
)
def test_a_bad_edit_changes_nothing(cluster, recipients, changes, message):
    window = sunday_window(cluster)
    rows = list(window.occurrences.values_list("pk", "start", "end", "status"))
    scheduler.occurrence_reminders_enqueue(now=FIRST_OLD - timedelta(hours=70))
    reminders = Reminder.objects.count()
    with pytest.raises(ValidationError, match=message):
        window_services.window_update(window=window, now=T0, **changes)
    fresh = Window.objects.get(pk=window.pk)
    assert (fresh.rrule, fresh.tz, fresh.duration_minutes) == (
        "FREQ=WEEKLY;BYDAY=SU", "Europe/Berlin", 60,
    )  # fmt: skip
    assert list(window.occurrences.values_list("pk", "start", "end", "status")) == rows
    assert Reminder.objects.count() == reminders
    assert not AuditEvent.objects.filter(action="window.update").exists()


@pytest.mark.django_db
def test_deleting_a_window_keeps_its_history_and_frees_the_name(cluster):
    window = sunday_window(cluster)
    later = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)  # after the first Sunday
    assert window_services.window_delete(window=window, now=later) is False
    kept = Window.objects.get(pk=window.pk)
    assert kept.name == "sunday (deleted 2027-03-09)"
    assert kept.active_until == date(2027, 3, 8)
    assert list(kept.occurrences.values_list("local_date", flat=True)) == [date(2027, 3, 7)]
    scheduler.tick(now=later + timedelta(days=7))
    assert kept.occurrences.count() == 1  # nothing materialised afterwards
    sunday_window(cluster, now=later)  # the name is free again
    fresh = sunday_window(cluster, name="fresh")
    assert window_services.window_delete(window=fresh, now=T0) is True  # no history: gone
    assert not Window.objects.filter(pk=fresh.pk).exists()
    assert AuditEvent.objects.filter(action="window.delete").count() == 2


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("maintenance", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_cli_edits_and_deletes_a_window(cluster):
    with time_machine.travel(T0, tick=False):
        out, _ = run("window", "add", "prod", "--weekday", "sun", "--start", "03:00",
                     "--duration", "60", "--tz", "Europe/Berlin", "--name", "sunday")  # fmt: skip
        pk = out.splitlines()[0]
        out, _ = run("window", "edit", pk, "--rrule", "FREQ=MONTHLY;BYDAY=-1SU",
                     "--start", "02:30", "--duration", "90")  # fmt: skip
        assert "last Sunday" in out
        window = Window.objects.get(pk=pk)
        assert window.rrule == "FREQ=MONTHLY;BYDAY=-1SU"
        gap = window.occurrences.get(local_date=date(2027, 3, 28))
        assert gap.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
        out, _ = run("window", "edit", pk, "--once", "2027-04-10", "--tz", "America/Santiago")
        window.refresh_from_db()
        assert (window.active_from, window.active_until) == (date(2027, 4, 10),) * 2
        assert list(window.occurrences.values_list("local_date", flat=True)) == [date(2027, 4, 10)]
        out, _ = run("window", "delete", pk)
        assert f"Window {pk}" in out
    assert not Window.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--rrule", "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2"],
        ["--rrule", "FREQ=SECONDLY"],
        ["--tz", "Mars/Olympus"],
        ["--start", "24:00"],
        ["--duration", "4"],
        ["--once", "2027-02-30"],
        [],
    ],
)
def test_cli_refuses_a_bad_edit_with_exit_2_and_changes_nothing(cluster, args):
    with time_machine.travel(T0, tick=False):
        window = sunday_window(cluster)
        rows = list(window.occurrences.values_list("pk", "start"))
        with pytest.raises(CommandError) as caught:
            run("window", "edit", str(window.pk), *args)
    assert caught.value.returncode == 2
    fresh = Window.objects.get(pk=window.pk)
    assert (fresh.rrule, fresh.start_time, fresh.tz) == (
        "FREQ=WEEKLY;BYDAY=SU", time(3, 0), "Europe/Berlin",
    )  # fmt: skip
    assert list(window.occurrences.values_list("pk", "start")) == rows


@pytest.mark.django_db
def test_cli_refuses_an_unknown_window(cluster):
    for action in ("edit", "delete"):
        with pytest.raises(CommandError) as caught:
            run("window", action, "999", *(["--start", "03:00"] if action == "edit" else []))
        assert caught.value.returncode == 2
