"""Against the Swarm lab: a window in which a worker is restarted.

clusters.selectors.node_reboots is still the interface stub on this branch, so the test
derives reboots from the Engine API's node events (what the poller records) with a small
helper, and builds the node list for latest_snapshot from the manager's /nodes.
"""

from datetime import UTC, datetime, timedelta

import pytest

from clusters.models import Recipient
from clusters.selectors import Reboot
from clusters.snapshot import Node, Snapshot, SwarmInfo
from maintenance import services
from maintenance.models import Reminder

DOWN = {"down", "unknown", "disconnected"}


def reboots_from_events(client, *, since: datetime, until: datetime) -> list[Reboot]:
    """Node transitions ready -> down/unknown/disconnected -> ready from /events."""
    until = min(until, datetime.now(UTC))
    if until <= since:
        return []
    events = client.events(
        since=int(since.timestamp()),
        until=int(until.timestamp()) + 1,
        filters={"type": "node"},
        decode=True,
    )
    went_down: dict[str, datetime] = {}
    found = []
    for event in events:
        attrs = event["Actor"].get("Attributes", {})
        node_id = event["Actor"]["ID"]
        at = datetime.fromtimestamp(event["timeNano"] / 1e9, UTC)
        new = attrs.get("state.new")
        if new in DOWN:
            went_down.setdefault(node_id, at)
        elif new == "ready" and node_id in went_down:
            found.append(Reboot(node_id, attrs.get("name", ""), went_down.pop(node_id), at))
    return [r for r in found if since <= r.ready_at < until]


def snapshot_of(client) -> Snapshot:
    nodes = [
        Node(
            id=n.id,
            hostname=n.attrs["Description"]["Hostname"],
            role=n.attrs["Spec"]["Role"],
            state=n.attrs["Status"]["State"],
            availability=n.attrs["Spec"]["Availability"],
            cpus=n.attrs["Description"]["Resources"]["NanoCPUs"] / 1e9,
            memory_bytes=n.attrs["Description"]["Resources"]["MemoryBytes"],
        )
        for n in client.nodes.list()
    ]
    return Snapshot(taken_at=datetime.now(UTC), swarm=SwarmInfo(nodes=len(nodes)), nodes=nodes)


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.django_db
def test_a_worker_restarted_in_a_window_is_verified_the_other_nodes_are_not(
    swarm_lab,
    cluster,
    monkeypatch,
    locmem,
):
    Recipient.objects.create(cluster=cluster, email="ops@example.org")
    client = swarm_lab.client()
    monkeypatch.setattr(
        "clusters.selectors.latest_snapshot", lambda *, cluster: snapshot_of(client)
    )
    monkeypatch.setattr(
        "clusters.selectors.node_reboots",
        lambda *, cluster, since, until: reboots_from_events(client, since=since, until=until),
    )
    opened = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    window = services.window_create(
        cluster=cluster, weekdays=opened.strftime("%a").lower(), start_time=opened.time(),
        duration_minutes=30, tz="UTC", now=opened, name="lab window",
    )  # fmt: skip
    occurrence = window.occurrences.get(local_date=opened.date())
    services.tick(now=datetime.now(UTC))
    occurrence.refresh_from_db()
    assert occurrence.status == "in_progress"
    assert set(occurrence.expected_nodes.values()) == set(swarm_lab.hostnames)

    swarm_lab.restart_node("wk-worker-1")

    services.tick(now=datetime.now(UTC))
    occurrence.refresh_from_db()
    (verification,) = occurrence.verifications.all()
    assert (verification.hostname, verification.source) == ("wk-worker-1", "observed")
    assert occurrence.start <= verification.verified_at < occurrence.end

    services.tick(now=occurrence.end + timedelta(minutes=30))
    occurrence.refresh_from_db()
    assert occurrence.status == "partial"
    reminder = Reminder.objects.get(kind="window_not_verified")
    assert reminder.status == "sent"
    (message,) = [m for m in locmem if "not verified" in m.subject]
    assert "wk-manager-1" in message.body and "wk-worker-2" in message.body
    assert "wk-worker-1" not in message.body
