"""Writes of the readiness app (interface stub; the readiness issue implements it)."""

from datetime import datetime


def evaluation_run(*, cluster, snapshot, now: datetime):
    """Score SNAPSHOT for CLUSTER, store the evaluation, hand changes to notifications."""
    return None
