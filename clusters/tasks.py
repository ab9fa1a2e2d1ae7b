"""Celery interface of the clusters app (the poll itself is dashboard.tasks.poll_cluster)."""

from celery import shared_task
from django.utils import timezone

from audit import services as audit
from clusters import persistence


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Thin old snapshots and poll runs, and purge audit events past retention (hourly)."""
    now = timezone.now()
    counts = persistence.history_prune(now=now)
    counts["audit_events"] = audit.purge(now=now)
    return counts
