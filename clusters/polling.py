"""Polls of the clusters app: the claim (one poll of a cluster at a time) and the fetch
(ask the Engine API, normalise its answer into a Snapshot with the process's normalize.Reuse).

dashboard.pipeline runs a whole poll: claim, fetch, persist (clusters.persistence), score and
notify.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, Value

from clusters import client, connection, normalize, selectors
from clusters.models import POLL_CLAIM_TIMEOUT, Cluster, PollRun
from clusters.registration import cluster_credentials
from clusters.snapshot import Snapshot
from watchkeeper import crypto

log = logging.getLogger(__name__)

Fetcher = Callable[..., client.RawPoll]


# --- the claim ------------------------------------------------------------------------------


def _claimable(now: datetime) -> Q:
    return Q(poll_claimed_at__isnull=True) | Q(poll_claimed_at__lt=now - POLL_CLAIM_TIMEOUT)


def polls_due(*, now: datetime) -> list[int]:
    """Claim the next-poll slot of every due cluster; return their ids.

    Two statements whatever the number of clusters (the beat entry that calls it every few
    seconds must not grow with the fleet): the due rows are locked, skipping rows another
    scheduler holds, and moved to NOW + their interval in one UPDATE. A scheduler that runs
    after another one committed reads the moved next_poll_at and does not claim them again.
    """
    with transaction.atomic():
        due = list(
            Cluster.objects.filter(enabled=True)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
            .filter(_claimable(now))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_poll_at", "pk")
            .values_list("pk", flat=True)
        )
        if due:
            Cluster.objects.filter(pk__in=due).update(
                next_poll_at=Value(now) + F("poll_interval") * Value(timedelta(seconds=1))
            )
    return due


def poll_claim(*, cluster_id: int, now: datetime) -> bool:
    """Claim CLUSTER for one poll; False when another poll holds a fresh claim."""
    return (
        Cluster.objects.filter(pk=cluster_id).filter(_claimable(now)).update(poll_claimed_at=now)
        == 1
    )


def poll_release(*, cluster_id: int, claimed_at: datetime, interval: int) -> None:
    """Give up our claim (if it is still ours) and schedule the next poll."""
    Cluster.objects.filter(pk=cluster_id, poll_claimed_at=claimed_at).update(
        poll_claimed_at=None, next_poll_at=claimed_at + timedelta(seconds=interval)
    )


class ClaimLost(Exception):
    """A poll outlived its claim (POLL_CLAIM_TIMEOUT) and another poll took the cluster."""


def claim_held(*, cluster: Cluster, claimed_at: datetime | None) -> None:
    """In a transaction: lock CLUSTER's row if the poll claim made at CLAIMED_AT still holds,
    else raise ClaimLost. Only the poll holding the claim writes (None: no check)."""
    if claimed_at is None:
        return
    held = Cluster.objects.select_for_update().filter(pk=cluster.pk, poll_claimed_at=claimed_at)
    if not held.exists():
        raise ClaimLost


# --- the fetch ------------------------------------------------------------------------------

# Per worker process: what the last poll of each cluster normalised (see normalize.Reuse).
# Any process may poll any cluster; a process that did not poll it last only builds more.
# Bounded by clusters and by objects: a cluster of 2,000 services and 10,000 tasks (12,000
# objects) keeps some 27 MiB (make bench), so a worker keeps at most about 230 MiB.
_REUSE: OrderedDict[int, normalize.Reuse] = OrderedDict()
REUSE_CLUSTERS = 32
REUSE_OBJECTS = 100_000  # services + tasks kept, all clusters together


def _reuse_for(cluster: Cluster) -> normalize.Reuse:
    """The cluster's Reuse, made the most recently used (see _reuse_trim)."""
    reuse = _REUSE.pop(cluster.pk, None) or normalize.Reuse()
    _REUSE[cluster.pk] = reuse
    _reuse_trim()
    return reuse


def _reuse_trim() -> None:
    """Drop the least recently used beyond REUSE_CLUSTERS clusters or REUSE_OBJECTS objects;
    the most recent (the cluster being polled) always stays. Memory stays bounded whatever the
    size of the fleet; called before a poll and again once the poll knows its new size."""
    objects = clusters = 0
    for pk in reversed(list(_REUSE)):  # most recently used first
        objects += _REUSE[pk].size
        clusters += 1
        if clusters > 1 and (objects > REUSE_OBJECTS or clusters > REUSE_CLUSTERS):
            del _REUSE[pk]  # and, in the next rounds, every older one


@dataclass(frozen=True)
class Fetched:
    """What a good fetch brought: the snapshot, the Engine's time its events reach, and how
    long fetching and normalising took (seconds)."""

    snapshot: Snapshot
    engine_time: datetime | None
    timings: dict[str, float]


def poll_fetch(*, cluster: Cluster, started_at: datetime, fetch: Fetcher) -> Fetched:
    """Fetch CLUSTER's state (events since its last good poll) and normalise it.

    Raises connection.PollFailed for every failure of the cluster: credentials unreadable, the
    API unreachable or refusing, an answer Watchkeeper cannot read ("malformed").
    """
    clock = time.perf_counter()
    last_ok = (
        PollRun.objects.filter(cluster=cluster, ok=True, events_until__isnull=False)
        .values_list("events_until", flat=True)
        .first()
    )
    try:
        credentials = cluster_credentials(cluster)
    except crypto.SecretUnreadable as exc:
        raise connection.PollFailed("credentials", str(exc)) from None
    raw = fetch(
        url=cluster.url,
        credentials=credentials,
        events_since=last_ok,
        default_lookback_s=cluster.poll_interval,
    )
    timings = {"fetch": time.perf_counter() - clock}
    mark = time.perf_counter()
    try:
        reuse = _reuse_for(cluster)
        if reuse.swarm is None:  # this process's first poll of it: the join tokens' first
            reuse.swarm = selectors.latest_swarm(cluster=cluster)  # sightings, from the store
        snapshot = normalize.snapshot(raw.as_dict(), now=started_at, reuse=reuse)
    except normalize.MalformedResponse:
        log.warning("malformed response from cluster %s", cluster.pk, exc_info=True)
        raise connection.PollFailed(
            "malformed", f"{connection.display_url(cluster.url)} sent data Watchkeeper cannot read."
        ) from None
    _reuse_trim()
    timings["normalize"] = time.perf_counter() - mark
    return Fetched(snapshot=snapshot, engine_time=raw.engine_time, timings=timings)
