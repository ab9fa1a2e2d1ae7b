"""The reminder pipeline against a real SMTP server and PostgreSQL.

Concurrent `manage.py maintenance tick` processes deliver every reminder exactly once; a
tick killed after claiming loses nothing; SMTP errors are retried with backoff and a
permanent failure is recorded.
"""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from maintenance import selectors
from maintenance.models import Reminder
from maintenance.services import occurrences as occurrence_services
from maintenance.services import outbox, reminders
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

from .smtpserver import SMTPServer

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp(settings):
    with SMTPServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 10},
            }
        }
        yield server


def enqueue(cluster, count):
    created = 0
    for n in range(count):
        created += reminders.notification_enqueue(
            cluster=cluster,
            kind="critical_finding",
            subject_key=f"finding:{n}",
            title=f"[prod] new critical finding {n}",
            body="A critical finding appeared.",
            now=T - timedelta(minutes=1),
        )
    return created


def tick_env(smtp_port: int) -> dict:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        PYTHONPATH=str(ROOT),
    )
    return env


def start_tick(env, now: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "maintenance", "tick", "--now", now.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db
def test_it_deduplicates_rows_and_derives_a_stable_message_id(cluster, recipients):
    assert enqueue(cluster, 3) == 6
    assert enqueue(cluster, 3) == 0
    keys = set(Reminder.objects.values_list("dedup_key", "message_id"))
    assert all(mid == reminders.message_id_for(key) for key, mid in keys)
    assert reminders.message_id_for("a") == reminders.message_id_for("a")
    assert reminders.message_id_for("a") != reminders.message_id_for("b")


@pytest.mark.django_db
def test_it_enqueues_a_batch_in_constant_statements(
    cluster, recipients, django_assert_max_num_queries
):
    def batch(first, count):
        return [
            reminders.Notification("critical_finding", f"finding:{n}", f"finding {n}", "body")
            for n in range(first, first + count)
        ]

    assert enqueue(cluster, 2) == 4
    with django_assert_max_num_queries(5):  # + the channels, + which users see the cluster
        created = reminders.notifications_enqueue(
            cluster=cluster, notifications=batch(0, 300), now=T
        )
    assert created == 596  # findings 0 and 1 were already queued for both recipients
    assert Reminder.objects.count() == 600
    with pytest.raises(ValueError, match="unknown notification kind"):
        reminders.notifications_enqueue(
            cluster=cluster, notifications=[reminders.Notification("bogus", "k", "t", "b")], now=T
        )


@pytest.mark.django_db
def test_it_suppresses_node_down_inside_a_window(cluster, recipients):
    from datetime import time

    window = window_services.window_create(
        cluster=cluster, weekdays="mon", start_time=time(10, 0), duration_minutes=60,
        tz="Europe/Berlin", now=T - timedelta(days=1),
    )  # fmt: skip
    inside = window.occurrences.get(local_date=T.date()).start + timedelta(minutes=5)
    args = dict(cluster=cluster, kind="node_down", title="w-1 down", body="w-1 is down")
    assert reminders.notification_enqueue(subject_key="node:w-1:a", now=inside, **args) == 0
    assert reminders.notification_enqueue(subject_key="node:w-1:b", now=T, **args) == 2


@pytest.mark.django_db
def test_it_takes_the_callers_in_window_answer_without_asking_again(
    cluster, recipients, django_assert_num_queries
):
    args = dict(cluster=cluster, kind="node_down", title="w-1 down", body="w-1 is down", now=T)
    with django_assert_num_queries(0):  # no window: the caller's facts say "inside" anyway
        assert reminders.notification_enqueue(subject_key="node:w-1:a", in_window=True, **args) == 0
    assert reminders.notification_enqueue(subject_key="node:w-1:b", in_window=False, **args) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_four_concurrent_ticks_deliver_every_reminder_exactly_once(cluster, recipients, smtp):
    assert enqueue(cluster, 60) == 120
    env = tick_env(smtp.port)
    procs = [start_tick(env, T) for _ in range(4)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    ids = smtp.handler.message_ids()
    expected = set(Reminder.objects.values_list("message_id", flat=True))
    assert len(expected) == 120
    assert set(ids) == expected
    assert max(ids.values()) == 1
    assert Reminder.objects.filter(status="sent").count() == 120
    claimed = [int(out.split("claimed ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(claimed) == 120


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_tick_killed_after_claiming_loses_nothing(cluster, recipients, smtp):
    enqueue(cluster, 10)
    env = tick_env(smtp.port)
    smtp.handler.hold = True
    victim = start_tick(env, T)
    assert smtp.handler.holding.wait(timeout=60), victim.stderr.read() if victim.poll() else ""
    assert Reminder.objects.filter(status="sending").count() == 1  # one claimed at a time
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    smtp.handler.release.set()
    assert smtp.handler.message_ids() == {}

    # within the lease the held row waits; the rest never waits out a lease
    early = start_tick(env, T + timedelta(minutes=1))
    early.communicate(timeout=60)
    assert len(smtp.handler.message_ids()) == 19
    # after the lease the next tick sends them all, once
    later = start_tick(env, T + outbox.LEASE + timedelta(minutes=1))
    out, err = later.communicate(timeout=60)
    assert later.returncode == 0, err
    ids = smtp.handler.message_ids()
    assert set(ids) == set(Reminder.objects.values_list("message_id", flat=True))
    assert max(ids.values()) == 1
    assert Reminder.objects.filter(status="sent").count() == 20


@pytest.mark.django_db
def test_it_retries_with_backoff_and_records_a_permanent_failure(cluster, recipients, smtp):
    smtp.handler.defer.add("otto@example.org")
    smtp.handler.reject.add("ops@example.org")
    enqueue(cluster, 1)
    result = outbox.reminders_send_due(now=T)
    assert (result.sent, result.retried, result.failed) == (0, 1, 1)
    deferred = Reminder.objects.get(recipient="otto@example.org")
    rejected = Reminder.objects.get(recipient="ops@example.org")
    assert deferred.status == "pending" and deferred.attempts == 1
    assert "451" in deferred.last_error
    assert T + timedelta(minutes=1) <= deferred.next_attempt_at < T + timedelta(minutes=2)
    assert rejected.status == "failed" and "550" in rejected.last_error
    assert list(selectors.reminders_log(status="failed")) == [rejected]

    assert outbox.reminders_send_due(now=T + timedelta(seconds=30)).claimed == 0
    result = outbox.reminders_send_due(now=deferred.next_attempt_at)
    deferred.refresh_from_db()
    assert result.retried == 1 and deferred.attempts == 2
    assert deferred.next_attempt_at >= T + timedelta(minutes=3)  # 1 then 2 minutes

    smtp.handler.defer.clear()
    outbox.reminders_send_due(now=deferred.next_attempt_at)
    deferred.refresh_from_db()
    assert deferred.status == "sent"
    assert smtp.handler.message_ids() == {deferred.message_id: 1}


@pytest.mark.django_db
def test_it_gives_up_after_max_attempts_when_the_server_is_unreachable(
    cluster, recipients, settings
):
    from .smtpserver import free_port

    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    enqueue(cluster, 1)
    now = T
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.reminders_send_due(now=now)
        now += timedelta(hours=7)
    rows = list(Reminder.objects.all())
    assert {r.status for r in rows} == {"failed"}
    assert all(r.attempts == outbox.MAX_ATTEMPTS for r in rows)
    assert all("Connection refused" in r.last_error or "Errno" in r.last_error for r in rows)


def test_backoff_doubles_and_is_capped():
    assert outbox.backoff(1) == timedelta(minutes=1)
    assert outbox.backoff(2) == timedelta(minutes=2)
    assert outbox.backoff(5) == timedelta(minutes=16)
    assert outbox.backoff(30) == timedelta(hours=6)


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_2_on_bad_input(cluster):
    proc = subprocess.run(
        [sys.executable, "manage.py", "maintenance", "window", "add", "prod", "--weekday",
         "sun", "--start", "02:00", "--duration", "60", "--tz", "Mars/Olympus"],
        cwd=ROOT, env=tick_env(1025), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Mars/Olympus" in proc.stderr
    assert not cluster.maintenance_windows.exists()


@pytest.mark.django_db
def test_it_reminds_an_upcoming_window_72_24_and_1_hour_before_once_each(
    cluster, recipients, locmem
):
    from datetime import time

    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="Europe/Berlin", now=T, name="sunday",
    )  # fmt: skip
    first, second = window.occurrences.order_by("start")[:2]
    occurrence_services.occurrence_cancel(occurrence=second, now=T, reason="freeze")
    start = first.start
    for at in (72 * 60 + 1, 72 * 60, 71 * 60, 24 * 60, 23 * 60, 60, 30, 1):
        scheduler.tick(now=start - timedelta(minutes=at))
    rows = Reminder.objects.filter(kind="window_upcoming", recipient="ops@example.org")
    assert [(r.due_at, r.title) for r in rows.order_by("due_at")] == [
        (start - timedelta(hours=72), "[prod] maintenance window sunday in 72 h"),
        (start - timedelta(hours=24), "[prod] maintenance window sunday in 24 h"),
        (start - timedelta(hours=1), "[prod] maintenance window sunday in 1 h"),
    ]
    assert {r.occurrence_id for r in rows} == {first.pk}
    assert Reminder.objects.filter(kind="window_upcoming").count() == 6  # two recipients
    assert len(locmem) == 6
    assert "Rolling reboot plan" in locmem[0].body
    # the cancelled week gets none, even at its own lead times
    for hours in (72, 24, 1):
        scheduler.tick(now=second.start - timedelta(hours=hours))
    assert not Reminder.objects.filter(occurrence=second).exists()


@pytest.mark.django_db
def test_a_window_scheduled_late_is_announced_with_the_time_really_left(cluster, recipients):
    from datetime import time

    window = window_services.window_create(
        cluster=cluster, weekdays="wed", start_time=time(1, 0), duration_minutes=60,
        tz="UTC", now=T, name="soon",
    )  # fmt: skip
    start = window.occurrences.order_by("start").first().start
    assert start - T == timedelta(hours=40)
    scheduler.tick(now=T)  # the 72-hour reminder is late: say how long is really left
    scheduler.tick(now=start - timedelta(minutes=20))  # so is the one-hour reminder
    titles = list(
        Reminder.objects.filter(kind="window_upcoming", recipient="ops@example.org")
        .order_by("due_at")
        .values_list("title", flat=True)
    )
    assert titles == [
        "[prod] maintenance window soon in 40 h",
        "[prod] maintenance window soon in 20 min",
    ]
