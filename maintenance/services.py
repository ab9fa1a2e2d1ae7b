"""Writes of the maintenance app (interface stub; the maintenance issue implements it)."""

from datetime import datetime


def notification_enqueue(
    *, cluster, kind: str, subject_key: str, title: str, body: str, now: datetime
) -> int:
    """Queue a notification for every recipient of CLUSTER, deduplicated by (kind, subject_key).

    Kinds used by other apps: "critical_finding", "grade_drop", "waiver_expired", "node_down".
    Returns how many reminder rows were created.
    """
    return 0
