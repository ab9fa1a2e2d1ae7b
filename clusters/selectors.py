"""Reads of the clusters app for other apps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Min

from clusters.models import Node, NodeTransition, PollRun, PollSnapshot
from clusters.snapshot import DOWN_STATES
from watchkeeper import crypto


@dataclass(frozen=True)
class Reboot:
    """A node seen going down (down/unknown/disconnected) and back to ready."""

    node_id: str
    hostname: str
    down_at: datetime
    ready_at: datetime


def latest_snapshot(*, cluster):
    """The last good clusters.snapshot.Snapshot of CLUSTER, or None."""
    stored = PollSnapshot.objects.filter(cluster=cluster).order_by("-taken_at").first()
    return stored.load() if stored else None


def node_reboots(*, cluster, since: datetime, until: datetime) -> list[Reboot]:
    """Reboots observed on CLUSTER whose return to ready falls in [since, until)."""
    ready_nodes = NodeTransition.objects.filter(
        cluster=cluster, to_state="ready", from_state__in=DOWN_STATES, at__gte=since, at__lt=until
    ).values("node_id")
    transitions = (
        NodeTransition.objects.filter(cluster=cluster, node_id__in=ready_nodes, at__lt=until)
        .select_related("node")
        .order_by("node_id", "at", "pk")
    )
    reboots = []
    down: dict[int, datetime] = {}
    for t in transitions:
        if t.to_state in DOWN_STATES:
            down.setdefault(t.node_id, t.at)
        elif t.to_state == "ready":
            went_down = down.pop(t.node_id, None)
            if went_down is not None and since <= t.at < until:
                reboots.append(Reboot(t.node.swarm_id, t.node.hostname, went_down, t.at))
    return sorted(reboots, key=lambda r: r.ready_at)


def stored_credentials(*, cluster) -> dict[str, bool]:
    """Which credentials are stored for CLUSTER, never their values: {"ca": True, ...};
    {"unreadable": True} when they cannot be decrypted."""
    try:
        text = cluster.get_credentials()
    except crypto.SecretUnreadable:
        return {"unreadable": True}
    return {key: bool(value) for key, value in json.loads(text).items()} if text else {}


def current_nodes(*, cluster):
    """CLUSTER's nodes still in the swarm, by hostname (removed ones are kept for history)."""
    return cluster.nodes.filter(removed_at__isnull=True).order_by("hostname", "id")


def current_services(*, cluster):
    """CLUSTER's services still deployed, by name (removed ones are kept for history)."""
    return cluster.services.filter(removed_at__isnull=True).order_by("name", "id")


def nodes_down(*, cluster, seen_since: datetime):
    """CLUSTER's nodes seen down (or disconnected) by every good poll since SEEN_SINCE or
    earlier (clusters.persistence keeps Node.down_since)."""
    return Node.objects.filter(
        cluster=cluster, removed_at__isnull=True, down_since__lte=seen_since
    ).order_by("hostname", "id")


@dataclass(frozen=True)
class Outage:
    """A run of failed polls (Watchkeeper's own database faults aside): first and last."""

    first: datetime
    last: datetime


def poll_outage(*, cluster, until: datetime) -> Outage | None:
    """The run of failed polls started at or before UNTIL and after the last good one; None
    when the last poll up to UNTIL was good (or there was none)."""
    runs = PollRun.objects.filter(cluster=cluster, started_at__lte=until).exclude(
        error_kind="database"
    )
    last_ok = runs.filter(ok=True).values_list("started_at", flat=True).first()
    failed = runs.filter(ok=False)
    if last_ok is not None:
        failed = failed.filter(started_at__gt=last_ok)
    bounds = failed.aggregate(first=Min("started_at"), last=Max("started_at"))
    return Outage(bounds["first"], bounds["last"]) if bounds["first"] is not None else None
