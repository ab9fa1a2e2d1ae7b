"""Celery interface of the dashboard: the poll pipeline and the waiver expiry notices."""

import logging

from celery import shared_task
from django.utils import timezone

from clusters import polling
from clusters.models import Cluster
from dashboard import digest, health, pipeline

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def enqueue_due_polls() -> int:
    """Enqueue a poll for every cluster that is due; returns how many were enqueued. Beat runs
    it every 10 s: it records the `beat` heartbeat /healthz reports."""
    now = timezone.now()
    health.heartbeat_record(name=health.BEAT, now=now)
    due = polling.polls_due(now=now)
    for cluster_id in due:
        poll_cluster.delay_on_commit(cluster_id)
    return len(due)


@shared_task(ignore_result=True, acks_late=False)
def poll_cluster(cluster_id: int) -> int | None:
    """Poll one cluster; failures of the cluster are recorded on its PollRun, never raised."""
    cluster = Cluster.objects.filter(pk=cluster_id, enabled=True).first()
    if cluster is None:
        return None
    outcome = pipeline.cluster_poll(cluster=cluster)
    return outcome.run.pk if outcome else None


@shared_task(ignore_result=True)
def expire_waivers() -> int:
    """Record expired waivers and notify their owners."""
    return pipeline.waivers_expire(now=timezone.now())


@shared_task(ignore_result=True)
def weekly_digests() -> int:
    """Queue the weekly digests that are due (the maintenance tick sends them)."""
    return digest.digests_enqueue(now=timezone.now())
