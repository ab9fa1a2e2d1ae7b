"""Celery interface of the clusters app."""

import logging

from celery import shared_task
from django.utils import timezone

from clusters import services
from clusters.models import Cluster

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def enqueue_due_polls() -> int:
    """Enqueue a poll for every cluster that is due; returns how many were enqueued."""
    due = services.polls_due(now=timezone.now())
    for cluster_id in due:
        poll_cluster.delay_on_commit(cluster_id)
    return len(due)


@shared_task(ignore_result=True, acks_late=False)
def poll_cluster(cluster_id: int) -> int | None:
    """Poll one cluster; failures of the cluster are recorded on its PollRun, never raised."""
    cluster = Cluster.objects.filter(pk=cluster_id, enabled=True).first()
    if cluster is None:
        return None
    outcome = services.cluster_poll(cluster=cluster)
    return outcome.run.pk if outcome else None


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Thin old snapshots and poll runs (hourly)."""
    return services.history_prune(now=timezone.now())
