"""Start and end notices of maintenance windows, against a real SMTP server and PostgreSQL:
off by default; when on, one start notice and one end notice (with the reboots seen and not
seen) per occurrence and destination, also when ticks run late or concurrently."""

import json
from datetime import UTC, datetime, time, timedelta

import pytest

from clusters.models import Cluster, Node, NodeTransition
from maintenance.models import Occurrence, Reminder
from maintenance.services import channels as channel_services
from maintenance.services import notices
from maintenance.services import occurrences as occurrence_services
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

from .test_channels import receiver  # noqa: F401 (the webhook receiver fixture)
from .test_reminders import start_tick, tick_env

DAY = datetime(2027, 5, 2, tzinfo=UTC)  # a Sunday
BEFORE = DAY - timedelta(days=3)
NODES = {"id-w-1": "w-1", "id-w-2": "w-2"}


@pytest.fixture
def occurrence(cluster):
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(5, 0), duration_minutes=60,
        tz="Europe/Berlin", now=BEFORE, name="sunday",
    )  # fmt: skip
    occurrence = window.occurrences.get(local_date=DAY.date())
    Occurrence.objects.filter(pk=occurrence.pk).update(expected_nodes=NODES)
    occurrence.refresh_from_db()
    return occurrence


def notices_on(cluster, polled_at=None):
    Cluster.objects.filter(pk=cluster.pk).update(window_notices=True, last_success_at=polled_at)


def rebooted(cluster, hostname, ready_at):
    """The poller's record of a reboot: ready -> down -> ready."""
    node = Node.objects.create(
        cluster=cluster, swarm_id=f"id-{hostname}", hostname=hostname, role="worker",
        state="ready", availability="active", first_seen_at=BEFORE, last_seen_at=ready_at,
    )  # fmt: skip
    for state, at in (("down", ready_at - timedelta(minutes=2)), ("ready", ready_at)):
        previous = "ready" if state == "down" else "down"
        NodeTransition.objects.create(
            cluster=cluster, node=node, from_state=previous, to_state=state, at=at, source="poll"
        )


def text(message) -> str:
    return message.get_payload(decode=True).decode().replace("\r\n", "\n")


def hooked(server) -> list[str]:
    kinds = [json.loads(body)["kind"] for _, body in server.received]
    return sorted(kind for kind in kinds if kind in ("window_started", "window_ended"))


def sent(smtp, kind):
    return [m for m in smtp.handler.messages if m["X-Watchkeeper-Kind"] == kind]


@pytest.mark.django_db
def test_it_sends_nothing_when_notices_are_off(cluster, recipients, occurrence, smtp):
    assert Cluster.objects.get(pk=cluster.pk).window_notices is False  # the default
    for at in (occurrence.start + timedelta(minutes=1), occurrence.end + timedelta(hours=1)):
        scheduler.tick(now=at)
    assert not Reminder.objects.filter(kind__in=["window_started", "window_ended"]).exists()
    assert sent(smtp, "window_started") == sent(smtp, "window_ended") == []


@pytest.mark.django_db
def test_it_notices_the_start_and_the_end_with_the_reboots_once(
    cluster,
    recipients,
    occurrence,
    smtp,
    receiver,  # noqa: F811
):
    notices_on(cluster)
    channel_services.channel_create(
        name="ops-hook", kind="webhook", url=receiver.url, cluster=cluster,
        signing_secret="k" * 20, now=BEFORE,
    )  # fmt: skip
    scheduler.tick(now=occurrence.start - timedelta(seconds=1))
    assert sent(smtp, "window_started") == []  # not before the start

    scheduler.tick(now=occurrence.start + timedelta(seconds=30))
    started = sent(smtp, "window_started")
    assert sorted(m["To"] for m in started) == ["ops@example.org", "otto@example.org"]
    assert started[0]["Subject"] == "[prod] maintenance window sunday started"
    body = text(started[0])
    assert "started at 2027-05-02T05:00:00+02:00 (2027-05-02 03:00 UTC)" in body
    assert "ends at 2027-05-02 06:00 CEST (2027-05-02 04:00 UTC), 60 minutes" in body
    assert "Nodes to reboot (2): w-1, w-2" in body
    assert hooked(receiver) == ["window_started"]

    rebooted(cluster, "w-1", occurrence.start + timedelta(minutes=20))
    scheduler.tick(now=occurrence.start + timedelta(minutes=30))
    assert len(sent(smtp, "window_started")) == 2  # once per recipient, not per tick

    # ended, but the cluster was not polled since: the end notice waits for that poll
    scheduler.tick(now=occurrence.end + timedelta(seconds=30))
    assert sent(smtp, "window_ended") == []
    Cluster.objects.filter(pk=cluster.pk).update(
        last_success_at=occurrence.end + timedelta(seconds=40)
    )
    scheduler.tick(now=occurrence.end + timedelta(minutes=1))
    ended = sent(smtp, "window_ended")
    assert len(ended) == 2
    assert ended[0]["Subject"] == "[prod] maintenance window sunday ended: 1 node not rebooted"
    body = text(ended[0])
    assert "ended at 2027-05-02 06:00 CEST: partial." in body
    assert "Rebooted (1):\n- w-1: observed, ready 2027-05-02 05:20 CEST\n" in body
    assert "Not seen rebooting (1):\n- w-2\n" in body
    assert hooked(receiver) == ["window_ended", "window_started"]

    for minutes in (2, 30, 120):
        scheduler.tick(now=occurrence.end + timedelta(minutes=minutes))
    assert len(sent(smtp, "window_started")) == len(sent(smtp, "window_ended")) == 2
    assert hooked(receiver) == ["window_ended", "window_started"]
    assert max(smtp.handler.message_ids().values()) == 1


@pytest.mark.django_db
def test_a_late_tick_sends_the_end_notice_only_and_without_a_poll_after_the_wait(
    cluster, recipients, occurrence, smtp
):
    notices_on(cluster)
    rebooted(cluster, "w-1", occurrence.start + timedelta(minutes=10))
    rebooted(cluster, "w-2", occurrence.start + timedelta(minutes=40))
    scheduler.tick(now=occurrence.end + timedelta(minutes=5))  # the scheduler slept through it
    assert sent(smtp, "window_started") == sent(smtp, "window_ended") == []  # no poll yet
    scheduler.tick(now=occurrence.end + notices.END_NOTICE_WAIT)
    assert sent(smtp, "window_started") == []  # a window that is over is not "started"
    ended = sent(smtp, "window_ended")
    assert len(ended) == 2
    assert ended[0]["Subject"] == "[prod] maintenance window sunday ended: every reboot verified"
    assert "Not seen rebooting (0):\n- none\n" in text(ended[0])


@pytest.mark.django_db
def test_a_cancelled_occurrence_gets_no_notice(cluster, recipients, occurrence, smtp):
    notices_on(cluster, polled_at=occurrence.end + timedelta(minutes=1))
    occurrence_services.occurrence_cancel(occurrence=occurrence, now=BEFORE, reason="holiday")
    for at in (occurrence.start + timedelta(minutes=1), occurrence.end + timedelta(hours=1)):
        scheduler.tick(now=at)
    assert not Reminder.objects.filter(kind__in=["window_started", "window_ended"]).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_concurrent_ticks_send_each_notice_exactly_once(cluster, recipients, occurrence, smtp):
    notices_on(cluster, polled_at=occurrence.end + timedelta(seconds=10))
    rebooted(cluster, "w-2", occurrence.start + timedelta(minutes=5))
    env = tick_env(smtp.port)
    for at in (occurrence.start + timedelta(minutes=1), occurrence.end + timedelta(minutes=1)):
        procs = [start_tick(env, at) for _ in range(4)]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    assert len(sent(smtp, "window_started")) == len(sent(smtp, "window_ended")) == 2
    assert max(smtp.handler.message_ids().values()) == 1
    assert Reminder.objects.filter(kind__in=["window_started", "window_ended"]).count() == 4
    assert "- w-2: observed" in text(sent(smtp, "window_ended")[0])
