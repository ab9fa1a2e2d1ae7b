"""Reads of the maintenance app for other apps (interface stub; the maintenance issue fills it)."""

from datetime import datetime


def operations_facts(*, cluster, now: datetime):
    """The readiness.facts.OperationsFacts for CLUSTER at NOW, or None when not available."""
    return None
