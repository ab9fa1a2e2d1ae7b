"""Reads of the clusters app for other apps (interface stub; the clusters issue fills it)."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Reboot:
    """A node seen going down (down/unknown/disconnected) and back to ready."""

    node_id: str
    hostname: str
    down_at: datetime
    ready_at: datetime


def latest_snapshot(*, cluster):
    """The last good clusters.snapshot.Snapshot of CLUSTER, or None."""
    return None


def node_reboots(*, cluster, since: datetime, until: datetime) -> list[Reboot]:
    """Reboots observed on CLUSTER whose return to ready falls in [since, until)."""
    return []
