"""Outage notices of a poll: a node down, the cluster unreachable, the cluster back.

Policy (readiness policy `down_grace_minutes`, default 2; docs/reliability.md):

- A node is notified down once every good poll for the grace period saw it `down` or
  `disconnected`: at least two good polls, the first at least the grace before the current
  one, with no failed poll between (clusters.models.Node.down_since). `unknown` (a manager
  that has just restarted does not know yet) never counts. One notice per run of "seen down".
- The cluster is notified unreachable once every poll for the grace period failed: at least
  two failed polls, the first at least the grace before the current one. One notice per
  outage; the good poll that ends it sends one "back" notice if, and only if, the unreachable
  one was queued. Watchkeeper's own database faults are no outage.
- Both are not notified inside a maintenance window (maintenance.services.reminders).

Each notice is a reminder row per recipient and channel, deduplicated by its subject key:
repeated polls, retried tasks and concurrent workers queue it exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from maintenance import selectors as maintenance_selectors
from maintenance.services import reminders as maintenance_services
from readiness import selectors as readiness_selectors

log = logging.getLogger(__name__)


def down_grace(cluster: Cluster) -> timedelta:
    """The cluster's grace before a node down or an unreachable cluster is notified."""
    return timedelta(minutes=readiness_selectors.cluster_policy(cluster=cluster).down_grace_minutes)


def nodes_down_notify(*, cluster: Cluster, now: datetime, in_window: bool) -> int:
    """Queue "node down" for the nodes seen down for the grace; returns how many nodes."""
    if in_window:
        return 0
    down = list(cluster_selectors.nodes_down(cluster=cluster, seen_since=now - down_grace(cluster)))
    maintenance_services.notifications_enqueue(  # all at once: statements do not grow with them
        cluster=cluster,
        notifications=[
            maintenance_services.notice(
                "node_down",
                f"{node.swarm_id}:{node.down_since.isoformat()}",
                {
                    "cluster": cluster,
                    "node": node,
                    "transition": {"to_state": node.state, "at": node.down_since},
                },
            )
            for node in down
        ],
        now=now,
        in_window=in_window,
    )
    return len(down)


def _unreachable_key(outage: cluster_selectors.Outage) -> str:
    return f"unreachable:{outage.first.isoformat()}"


def unreachable_notify(*, cluster: Cluster, now: datetime, error: str) -> bool:
    """After a failed poll at NOW: queue "cluster unreachable" once the outage is the grace
    long (once per outage). True when it is due (queued now or before)."""
    outage = cluster_selectors.poll_outage(cluster=cluster, until=now)
    grace = down_grace(cluster)
    if outage is None or outage.last - outage.first < grace:
        return False
    notice = maintenance_services.notice(
        "cluster_unreachable",
        _unreachable_key(outage),
        {
            "cluster": cluster,
            "since": outage.first,
            "error": error,
            "grace_minutes": int(grace.total_seconds() // 60),
        },
    )
    maintenance_services.notifications_enqueue(cluster=cluster, notifications=[notice], now=now)
    return True


def back_notify(*, cluster: Cluster, now: datetime) -> bool:
    """Before storing a good poll at NOW: if the polls before it failed and that outage was
    notified, queue one "back" notice. True when queued (now or before)."""
    outage = cluster_selectors.poll_outage(cluster=cluster, until=now)
    if outage is None or not maintenance_selectors.notice_queued(
        cluster=cluster, kind="cluster_unreachable", subject_key=_unreachable_key(outage)
    ):
        return False
    notice = maintenance_services.notice(
        "cluster_back",
        f"back:{outage.first.isoformat()}",
        {"cluster": cluster, "since": outage.first, "back_at": now},
    )
    maintenance_services.notifications_enqueue(cluster=cluster, notifications=[notice], now=now)
    return True
