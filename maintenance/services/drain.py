"""Drain assist: one node at a time inside a window, through the Engine API."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from clusters import selectors as cluster_selectors
from maintenance import dockerapi, planner
from maintenance.models import Occurrence


def drain_assist_step(*, occurrence: Occurrence, now: datetime) -> str | None:
    """One step of drain assist: re-activate the node back ready, or drain the next one.

    Only inside the window, only for clusters that opted in, one node at a time, and never
    a reboot. Returns what was done, or None.
    """
    cluster = occurrence.window.cluster
    if not cluster.drain_assist or occurrence.status == Occurrence.Status.CANCELLED:
        return None
    if occurrence.start > now:
        return None
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is None:
        return None
    nodes = snapshot.node_by_id()
    with transaction.atomic():
        locked = Occurrence.objects.select_for_update().get(pk=occurrence.pk)
        state = dict(locked.drain_state or {})
        done = list(state.get("done", []))
        current = state.get("current")
        verified = set(locked.verifications.values_list("node_id", flat=True))
        action = None
        if current:
            node = nodes.get(current)
            back = node is not None and node.state == "ready"
            if back and (current in verified or now >= locked.end):
                dockerapi.set_node_availability(
                    cluster=cluster, node_id=current, availability="active"
                )
                done.append(current)
                action = f"activated {node.hostname}"
                current = None
        elif now < locked.end:
            plan = planner.plan(snapshot, skip=set(done) | verified)
            if plan.steps:
                step = plan.steps[0]
                dockerapi.set_node_availability(
                    cluster=cluster, node_id=step.node_id, availability="drain"
                )
                current = step.node_id
                action = f"drained {step.hostname}"
        if action:
            locked.drain_state = {"current": current, "done": done, "last": action}
            locked.save(update_fields=["drain_state"])
    return action
