"""Polls a person asks for (the cluster page's "Poll now" and the API's POST .../polls): queued
for the worker and followed by the time they were asked for. A request is answered by the first
poll of the cluster that started at or after it (the worker's PollRun), whoever ran it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from clusters.models import POLL_CLAIM_TIMEOUT, Cluster, PollRun
from watchkeeper.degrade import CACHE_ERRORS, QUEUE_ERRORS

from .tasks import poll_cluster

log = logging.getLogger(__name__)
REQUEST_KEPT = timedelta(minutes=10)  # a request no poll answered by then is reported lost
QUEUED, RUNNING, SUCCEEDED, FAILED, LOST = "queued", "running", "succeeded", "failed", "lost"


class PollRefused(Exception):
    """The poll cannot be queued now; CODE says why ("poll_running" or "cluster_disabled")."""

    def __init__(self, code: str, message: str, *, requested_at: datetime | None = None):
        super().__init__(message)
        self.code = code
        self.requested_at = requested_at


@dataclass(frozen=True)
class PollState:
    """Where a requested poll is: STATUS and, once it ended, its RUN."""

    requested_at: datetime
    status: str
    run: PollRun | None = None


def request_id(requested_at: datetime) -> int:
    """The poll id handed out for a request: its time in microseconds since the epoch."""
    return int(requested_at.timestamp() * 1_000_000)


def request_time(poll_id: int) -> datetime | None:
    """The request time a poll id stands for (None for an id no request could have)."""
    try:
        return datetime.fromtimestamp(poll_id / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _key(cluster: Cluster) -> str:
    return f"poll-requested:{cluster.pk}"


def _answered(cluster: Cluster, requested_at: datetime) -> PollRun | None:
    return (
        PollRun.objects.filter(cluster=cluster, started_at__gte=requested_at)
        .order_by("started_at")
        .first()
    )


def _requested(cluster: Cluster) -> datetime | None:
    """When a poll of CLUSTER was last asked for (None without the cache: the pages work
    without Redis, less precisely; docs/reliability.md)."""
    try:
        return cache.get(_key(cluster))
    except CACHE_ERRORS:
        log.warning("the cache is unavailable: poll requests are not tracked", exc_info=True)
        return None


def poll_running(*, cluster: Cluster, now: datetime) -> bool:
    """A poll is being run now, or one asked for is still waiting for the worker."""
    claimed = cluster.poll_claimed_at
    if claimed is not None and claimed > now - POLL_CLAIM_TIMEOUT:
        return True
    requested = _requested(cluster)
    return (
        requested is not None
        and requested > now - REQUEST_KEPT
        and (cluster.last_poll_at is None or cluster.last_poll_at < requested)
    )


def poll_request(*, cluster: Cluster, now: datetime) -> datetime:
    """Queue a poll of CLUSTER (sent to the worker when the transaction commits); returns the
    request time (see request_id). PollRefused while another poll runs or waits, or when the
    cluster is disabled (the worker skips disabled clusters)."""
    if not cluster.enabled:
        raise PollRefused("cluster_disabled", f"{cluster.name} is disabled; enable it to poll it.")
    if poll_running(cluster=cluster, now=now):
        raise PollRefused(
            "poll_running",
            f"{cluster.name} is being polled (or a poll asked for is waiting); follow that one.",
            requested_at=_requested(cluster),
        )
    try:  # no retry: the person is told at once, and the beat polls it anyway when back
        poll_cluster.apply_async((cluster.pk,), retry=False)
    except QUEUE_ERRORS:
        log.warning("the queue is unavailable: poll of %s not enqueued", cluster.pk, exc_info=True)
        raise PollRefused(
            "queue_unavailable",
            "The task queue is unavailable, so the poll was not queued; the scheduled polls "
            "resume when it is back.",
        ) from None
    try:
        cache.set(_key(cluster), now, timeout=int(REQUEST_KEPT.total_seconds()))
    except CACHE_ERRORS:
        log.warning("the cache is unavailable: the poll request is not tracked", exc_info=True)
    return now


def poll_state(*, cluster: Cluster, requested_at: datetime, now: datetime) -> PollState:
    """Where the poll asked for at REQUESTED_AT is: the first poll started since then, once it
    ended (succeeded or failed), else running, queued, or lost after REQUEST_KEPT."""
    run = _answered(cluster, requested_at)
    if run is not None:
        return PollState(requested_at, SUCCEEDED if run.ok else FAILED, run)
    claimed = cluster.poll_claimed_at
    if claimed is not None and claimed >= requested_at:
        return PollState(requested_at, RUNNING)
    if now - requested_at > REQUEST_KEPT:
        return PollState(requested_at, LOST)
    return PollState(requested_at, QUEUED)
