"""Drain assist against the Swarm lab: real drains through the Engine API, one node at a time."""

from datetime import UTC, datetime, timedelta

import pytest

from clusters import registration
from clusters import selectors as cluster_selectors
from clusters.models import Cluster, Node
from dashboard import pipeline
from lab import NodeSpec
from maintenance import dockerapi, planner
from maintenance.models import Reminder
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def poll(cluster):
    outcome = pipeline.cluster_poll(cluster=Cluster.objects.get(pk=cluster.pk))
    assert outcome is not None and outcome.run.ok, outcome and outcome.run.error


def availability(lab, hostname: str) -> str:
    """The node's availability as the manager reports it."""
    return lab.swarm_node(hostname).attrs["Spec"]["Availability"]


def open_window(cluster):
    opened = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    window = window_services.window_create(
        cluster=cluster, weekdays=opened.strftime("%a").lower(), start_time=opened.time(),
        duration_minutes=30, tz="UTC", now=opened, name="lab window",
    )  # fmt: skip
    return window.occurrences.get(local_date=opened.date())


def drain_actions(now=None):
    return scheduler.tick(now=now or datetime.now(UTC)).drain_actions


def test_it_drains_the_planned_nodes_one_at_a_time_through_the_api(clean_swarm_lab, locmem):
    lab = clean_swarm_lab
    cluster = registration.cluster_add(name="lab", url=lab.docker_host)
    occurrence = open_window(cluster)
    poll(cluster)
    assert drain_actions() == []  # not opted in
    assert {availability(lab, h) for h in lab.hostnames} == {"active"}

    Cluster.objects.filter(pk=cluster.pk).update(drain_assist=True)
    plan = planner.plan(cluster_selectors.latest_snapshot(cluster=cluster))
    first, second = plan.steps[0].hostname, plan.steps[1].hostname
    assert drain_actions() == [f"drained {first}"]
    assert availability(lab, first) == "drain"
    poll(cluster)
    assert Node.objects.get(hostname=first).availability == "drain"

    # Drained, but not rebooted yet: nothing else is drained.
    assert drain_actions() == []
    lab.stop_node(first)
    lab.wait_node_state(first, "down")
    poll(cluster)
    assert drain_actions() == []  # down: neither re-activated nor the next one drained
    assert availability(lab, second) == "active"

    lab.start_node(first)
    lab.wait_node_state(first, "ready")
    assert drain_actions() == []  # the last poll still has it down
    poll(cluster)
    assert drain_actions() == [f"activated {first}"]
    assert availability(lab, first) == "active"
    occurrence.refresh_from_db()
    assert [v.hostname for v in occurrence.verifications.all()] == [first]

    assert drain_actions() == [f"drained {second}"]
    assert availability(lab, second) == "drain"
    assert availability(lab, first) == "active"
    # The node went down inside the window: expected, so nobody was alerted.
    assert not Reminder.objects.filter(kind="node_down").exists()


def test_it_drains_through_a_tls_endpoint_with_the_stored_credentials(make_lab):
    lab = make_lab([NodeSpec("wk-manager-1", "manager", cpus=1, memory_gib=1)], tls=True)
    files = lab.tls_files
    cluster = registration.cluster_add(
        name="tls",
        url=lab.tls_url,
        tls={kind: getattr(files, kind).read_text() for kind in ("ca", "cert", "key")},
    )
    assert cluster.credentials_encrypted and "PRIVATE KEY" not in cluster.credentials_encrypted
    node_id = lab.swarm_node("wk-manager-1").id
    dockerapi.set_node_availability(cluster=cluster, node_id=node_id, availability="drain")
    assert availability(lab, "wk-manager-1") == "drain"
    dockerapi.set_node_availability(cluster=cluster, node_id=node_id, availability="active")
    assert availability(lab, "wk-manager-1") == "active"
