"""Reboot verification per occurrence, operator confirmations, drain assist, facts, calendar."""

from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from clusters.selectors import Reboot
from maintenance import selectors
from maintenance.models import NodeVerification, Occurrence, Reminder
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import drain as drain_services
from maintenance.services import occurrences as occurrence_services
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

from .factories import node, service, snapshot, tasks

DAY = datetime(2027, 5, 2, tzinfo=UTC)  # a Sunday
BEFORE = DAY - timedelta(days=3)


@pytest.fixture
def swarm(monkeypatch):
    state = {
        "snapshot": snapshot([node("m-1", "manager"), node("w-1"), node("w-2")]),
        "reboots": [],
    }
    monkeypatch.setattr("clusters.selectors.latest_snapshot", lambda *, cluster: state["snapshot"])

    def reboots(*, cluster, since, until):
        return [r for r in state["reboots"] if since <= r.ready_at < until]

    monkeypatch.setattr("clusters.selectors.node_reboots", reboots)
    return state


@pytest.fixture
def occurrence(cluster):
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="UTC", now=BEFORE, name="sunday",
    )  # fmt: skip
    return window.occurrences.get(local_date=DAY.date())


def reboot(hostname, at):
    return Reboot(f"id-{hostname}", hostname, at - timedelta(seconds=40), at)


@pytest.mark.django_db
def test_it_completes_when_every_node_rebooted(swarm, occurrence):
    start = occurrence.start
    swarm["reboots"] = [reboot(h, start + timedelta(minutes=m)) for h, m in
                        [("w-1", 5), ("w-2", 15), ("m-1", 30)]]  # fmt: skip
    scheduler.tick(now=start + timedelta(minutes=20))
    occurrence.refresh_from_db()
    assert occurrence.status == "in_progress"
    assert set(occurrence.verifications.values_list("hostname", flat=True)) == {"w-1", "w-2"}
    scheduler.tick(now=occurrence.end + timedelta(minutes=1))
    occurrence.refresh_from_db()
    assert occurrence.status == "completed"
    assert occurrence.verifications.get(node_id="id-m-1").source == "observed"


@pytest.mark.django_db
def test_it_leaves_partial_and_reminds_not_verified(swarm, occurrence, recipients, locmem):
    swarm["reboots"] = [
        reboot("w-1", occurrence.start + timedelta(minutes=5)),
        reboot("w-2", occurrence.start - timedelta(hours=1)),  # before the window: not counted
    ]
    scheduler.tick(now=occurrence.end + timedelta(minutes=5))
    occurrence.refresh_from_db()
    assert occurrence.status == "partial"
    assert not Reminder.objects.filter(kind="window_not_verified").exists()
    scheduler.tick(now=occurrence.end + timedelta(minutes=30))
    sent = [m for m in locmem if "not verified" in m.subject]
    assert len(sent) == 2
    assert "- m-1\n- w-2" in sent[0].body
    scheduler.tick(now=occurrence.end + timedelta(minutes=31))
    assert len([m for m in locmem if "not verified" in m.subject]) == 2


@pytest.mark.django_db
def test_a_window_the_scheduler_slept_through_still_gets_its_outcome(swarm, occurrence, recipients):
    swarm["reboots"] = [reboot("w-1", occurrence.start + timedelta(minutes=5))]
    scheduler.tick(now=occurrence.end + timedelta(days=3))  # no tick ran for three days
    occurrence.refresh_from_db()
    assert occurrence.status == "partial"
    assert list(occurrence.verifications.values_list("hostname", flat=True)) == ["w-1"]
    assert not Reminder.objects.filter(kind="window_not_verified").exists()  # too late to nag


@pytest.mark.django_db
def test_it_marks_missed_and_accepts_confirmations(swarm, occurrence, operator):
    scheduler.tick(now=occurrence.end)
    occurrence.refresh_from_db()
    assert occurrence.status == "missed"
    with pytest.raises(ValidationError):
        window_services.occurrence_confirm_reboot(
            occurrence=occurrence, node_id="id-w-1", user=operator, note=" ",
            now=occurrence.end,
        )  # fmt: skip
    for host in ("w-1", "w-2", "m-1"):
        window_services.occurrence_confirm_reboot(
            occurrence=occurrence, node_id=f"id-{host}", user=operator,
            note="rebooted by the hosting provider, uptime 3 min", now=occurrence.end,
        )  # fmt: skip
    occurrence.refresh_from_db()
    assert occurrence.status == "completed"
    confirmed = occurrence.verifications.get(node_id="id-w-1")
    assert (confirmed.source, confirmed.confirmed_by, confirmed.hostname) == (
        "confirmed",
        operator,
        "w-1",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("node_id", ["", "id-elsewhere"])
def test_it_refuses_to_confirm_a_node_the_cluster_does_not_have(
    swarm, occurrence, operator, node_id
):
    scheduler.tick(now=occurrence.start + timedelta(minutes=1))
    with pytest.raises(ValidationError, match="not a node of cluster prod"):
        window_services.occurrence_confirm_reboot(
            occurrence=occurrence, node_id=node_id, user=operator, note="console",
            now=occurrence.start + timedelta(minutes=5),
        )  # fmt: skip
    assert not NodeVerification.objects.exists()
    assert not selectors.last_reboots(cluster=occurrence.window.cluster, now=occurrence.end)


@pytest.mark.django_db
def test_it_feeds_operations_facts(swarm, occurrence, cluster, recipients, operator):
    backup_services.backup_create(cluster=cluster, name="orders", now=BEFORE, validated_at=BEFORE)
    swarm["reboots"] = [reboot("w-1", occurrence.start + timedelta(minutes=5))]
    window_services.occurrence_confirm_reboot(
        occurrence=occurrence, node_id="id-w-2", user=operator, note="console",
        now=occurrence.start + timedelta(minutes=10),
    )  # fmt: skip
    facts = selectors.operations_facts(
        cluster=cluster, now=occurrence.start + timedelta(minutes=20)
    )
    assert facts.in_window_now is True
    assert [(w.name, w.duration_minutes, w.active) for w in facts.windows] == [("sunday", 60, True)]
    assert facts.last_reboot == {
        "id-w-1": occurrence.start + timedelta(minutes=5),
        "id-w-2": occurrence.start + timedelta(minutes=10),
    }
    assert [(b.name, b.state, b.last_passed_at) for b in facts.backups] == [
        ("orders", "ok", BEFORE)
    ]
    assert facts.recipients == 2
    assert selectors.operations_facts(cluster=cluster, now=occurrence.end).in_window_now is False


@pytest.mark.django_db
def test_drain_assist_drains_one_node_at_a_time_and_never_reboots(
    swarm, occurrence, cluster, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        "maintenance.dockerapi.set_node_availability",
        lambda *, cluster, node_id, availability: calls.append((node_id, availability)),
    )
    web = service("web", replicas=2)
    swarm["snapshot"] = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")], [web], tasks(web, "w-1", "w-2")
    )
    start = occurrence.start
    assert drain_services.drain_assist_step(occurrence=occurrence, now=start) is None  # opt-in
    cluster.drain_assist = True
    cluster.save()
    occurrence.refresh_from_db()
    scheduler.tick(now=start - timedelta(minutes=1))
    assert calls == []  # not before the window
    scheduler.tick(now=start + timedelta(minutes=1))
    assert calls == [("id-w-1", "drain")]
    scheduler.tick(now=start + timedelta(minutes=2))
    assert calls == [("id-w-1", "drain")]  # waits for the reboot
    swarm["reboots"] = [reboot("w-1", start + timedelta(minutes=3))]
    scheduler.tick(now=start + timedelta(minutes=4))
    assert calls[1:] == [("id-w-1", "active")]
    scheduler.tick(now=start + timedelta(minutes=5))
    assert calls[2:] == [("id-w-2", "drain")]


@pytest.mark.django_db
def test_drain_assist_records_why_the_docker_api_refused(swarm, occurrence, cluster):
    web = service("web", replicas=2)
    swarm["snapshot"] = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")], [web], tasks(web, "w-1", "w-2")
    )
    cluster.drain_assist = True
    cluster.save()
    result = scheduler.tick(now=occurrence.start + timedelta(minutes=1))
    assert result.drain_actions == []
    occurrence.refresh_from_db()
    assert occurrence.drain_state["error"].startswith(
        "PollFailed: The socket /nonexistent.sock does not exist"
    )


@pytest.mark.django_db
def test_the_calendar_feed_is_valid_icalendar_behind_a_rotatable_token(client, cluster, occurrence):
    window_services.window_create(
        cluster=cluster, weekdays="wed", start_time=time(2, 30), duration_minutes=90,
        tz="Europe/Berlin", now=BEFORE, name="berlin",
    )  # fmt: skip
    checklist_services.checklist_start(
        cluster=cluster, template="switchover", target=datetime(2027, 5, 20, 12, 0),
        tz="America/New_York", now=BEFORE,
    )  # fmt: skip
    url = reverse("maintenance:calendar", args=[cluster.calendar_token])
    traveller = time_machine.travel(BEFORE, tick=False)
    traveller.start()
    response = client.get(url)  # no login: the token is the credential
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert {"Europe/Berlin", "America/New_York"} <= zones
    events = cal.walk("VEVENT")
    assert any("berlin" in str(e["SUMMARY"]) for e in events)
    assert any("T-48h" in str(e["SUMMARY"]) for e in events)
    berlin = next(e for e in events if "berlin" in str(e["SUMMARY"]))
    assert berlin.decoded("DTEND") - berlin.decoded("DTSTART") == timedelta(minutes=90)
    assert all("UID" in e and "DTSTAMP" in e for e in events)

    old = cluster.calendar_token
    new = window_services.calendar_token_rotate(cluster=cluster)
    assert new != old
    assert client.get(url).status_code == 404
    assert client.get(reverse("maintenance:calendar", args=[new])).status_code == 200
    assert client.get("/maintenance/calendar/guess.ics").status_code == 404
    traveller.stop()


@pytest.mark.django_db
def test_it_cancels_only_future_occurrences(occurrence):
    with pytest.raises(ValidationError):
        occurrence_services.occurrence_cancel(occurrence=occurrence, now=occurrence.start)
    occurrence_services.occurrence_cancel(occurrence=occurrence, now=BEFORE, reason="freeze")
    occurrence.refresh_from_db()
    assert occurrence.status == Occurrence.Status.CANCELLED
    scheduler.tick(now=occurrence.end + timedelta(hours=1))
    occurrence.refresh_from_db()
    assert occurrence.status == Occurrence.Status.CANCELLED
    assert not NodeVerification.objects.exists()
