"""Celery interface of the clusters app (the poll itself is dashboard.tasks.poll_cluster)."""

from celery import shared_task
from django.utils import timezone

from clusters import persistence


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Thin old snapshots and poll runs (hourly)."""
    return persistence.history_prune(now=timezone.now())
