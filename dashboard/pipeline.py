"""The poll pipeline: claim -> fetch -> persist (clusters) -> score (readiness) -> notify
(maintenance's outbox), and the re-scoring a waiver change asks for.

A poll gathers the cluster's maintenance facts once (maintenance.selectors.operations_facts)
and hands them to the scoring (the rules' context) and to the node-down notice ("inside a
window?" is asked once: facts.in_window_now).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import DataError, IntegrityError, connection, transaction
from django.db import Error as DatabaseFault
from django.utils import timezone

from accounts.roles import VIEWER
from clusters import client, persistence, polling
from clusters import selectors as cluster_selectors
from clusters.connection import PollFailed, display_url
from clusters.models import Cluster, PollRun
from clusters.snapshot import Snapshot
from maintenance import selectors as maintenance_selectors
from maintenance.services import reminders as maintenance_services
from readiness import selectors as readiness_selectors
from readiness import services as readiness_services
from readiness.facts import OperationsFacts

from . import outages

log = logging.getLogger(__name__)


@dataclass
class PollOutcome:
    run: PollRun
    snapshot: Snapshot | None = None
    timings: dict[str, float] | None = None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off for the block, then restore its previous state.

    A poll allocates some 300,000 containers (raw JSON, snapshot, checks) that all live until
    it ends: the collector would traverse them again and again (0.1-0.3 s a poll at 10,000
    tasks) and find next to nothing. Reference counting still frees everything as usual; the
    few cycles a poll leaves wait for the next collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cluster_poll(
    *, cluster: Cluster, now: datetime | None = None, fetch: polling.Fetcher | None = None
) -> PollOutcome | None:
    """Claim, fetch, normalise, persist, score and notify; None if another poll holds it
    (or took it over while this one outlived its claim: then this one writes nothing).

    Failures of the cluster are recorded on the PollRun; nothing is raised for them.
    """
    started_at = now or timezone.now()
    if not polling.poll_claim(cluster_id=cluster.pk, now=started_at):
        return None
    clock = time.perf_counter()
    try:
        with gc_paused():
            return _poll_claimed(
                cluster=cluster, started_at=started_at, fetch=fetch or client.fetch
            )
    except polling.ClaimLost:
        log.warning("a poll of cluster %s outlived its claim: another poll took over", cluster.pk)
        return None
    except DatabaseFault:  # the database dropped mid-poll: recorded on a fresh connection
        if connection.in_atomic_block:
            raise
        log.warning("a database error ended the poll of cluster %s", cluster.pk, exc_info=True)
        run = _database_failure_record(cluster=cluster, started_at=started_at, clock=clock)
        return PollOutcome(run=run) if run is not None else None
    finally:
        _release(cluster=cluster, claimed_at=started_at)


DATABASE_FAILURE = (
    "Watchkeeper's database failed during this poll; what it had not stored or scored is "
    "picked up by the next poll."
)


def _database_failure_record(
    *, cluster: Cluster, started_at: datetime, clock: float
) -> PollRun | None:
    """Record the poll as failed (kind "database") on a fresh connection; None (logged) when
    the database is still unreachable or the claim was lost meanwhile."""
    connection.close()
    try:
        return _failed(cluster, started_at, clock, client.PollFailed("database", DATABASE_FAILURE))
    except (DatabaseFault, polling.ClaimLost):
        log.warning("cannot record the failed poll of cluster %s", cluster.pk, exc_info=True)
        connection.close()
        return None


def _release(*, cluster: Cluster, claimed_at: datetime) -> None:
    """Give up the poll's claim; after a database error (the connection dropped mid-poll)
    close the broken connection and try once more on a fresh one. If that fails too the claim
    expires after POLL_CLAIM_TIMEOUT (logged, never raised over the poll's own error)."""
    for attempt in (1, 2):
        try:
            polling.poll_release(
                cluster_id=cluster.pk, claimed_at=claimed_at, interval=cluster.poll_interval
            )
            return
        except DatabaseFault:  # InterfaceError (connection closed) is no DatabaseError
            if connection.in_atomic_block:
                raise
            log.warning(
                "releasing the poll claim of cluster %s failed (attempt %s)",
                cluster.pk,
                attempt,
                exc_info=True,
            )
            connection.close()


def _poll_claimed(*, cluster: Cluster, started_at: datetime, fetch: polling.Fetcher) -> PollOutcome:
    clock = time.perf_counter()
    _rescore_unscored(cluster=cluster, now=started_at)
    try:
        fetched = polling.poll_fetch(cluster=cluster, started_at=started_at, fetch=fetch)
    except PollFailed as failure:
        run = _failed(cluster, started_at, clock, failure)
        _notify(outages.unreachable_notify, cluster=cluster, now=started_at, error=run.error)
        return PollOutcome(run=run)
    _notify(outages.back_notify, cluster=cluster, now=started_at)
    snapshot, timings = fetched.snapshot, dict(fetched.timings)
    mark = time.perf_counter()
    try:
        run, _ = persistence.poll_persist(
            cluster=cluster,
            snapshot=snapshot,
            started_at=started_at,
            duration_ms=int((time.perf_counter() - clock) * 1000),
            events_until=fetched.engine_time,
            claimed_at=started_at,
        )
    except (DataError, IntegrityError, ValueError, TypeError):
        # A value the columns refuse (too long, out of range, not a number): the transaction
        # rolled back, the poll is recorded as malformed and the traceback logged.
        failure = PollFailed(
            "malformed",
            f"{display_url(cluster.url)} sent data Watchkeeper cannot store (a value of "
            "an unexpected type or size).",
        )
        log.warning("cannot store the poll of cluster %s", cluster.pk, exc_info=True)
        return PollOutcome(run=_failed(cluster, started_at, clock, failure))
    timings["persist"] = time.perf_counter() - mark
    mark = time.perf_counter()
    facts = _operations_facts(cluster=cluster, now=started_at)
    if facts is not None:
        _score(cluster=cluster, snapshot=snapshot, facts=facts, now=started_at)
        timings["score"] = time.perf_counter() - mark
        _notify(
            outages.nodes_down_notify,
            cluster=cluster,
            now=started_at,
            in_window=facts.in_window_now,
        )
    return PollOutcome(run=run, snapshot=snapshot, timings=timings)


def _failed(cluster: Cluster, started_at: datetime, clock: float, failure: PollFailed) -> PollRun:
    duration_ms = int((time.perf_counter() - clock) * 1000)
    log.info("poll of cluster %s failed: %s", cluster.pk, failure.kind)
    return persistence.poll_failure_record(
        cluster=cluster,
        started_at=started_at,
        duration_ms=duration_ms,
        failure=failure,
        claimed_at=started_at,
    )


def _operations_facts(*, cluster: Cluster, now: datetime) -> OperationsFacts | None:
    """The cluster's maintenance facts, once per poll; None (recorded) if they cannot be read:
    the poll is kept, neither scored nor checked for nodes down (as when scoring fails)."""
    try:
        return maintenance_selectors.operations_facts(cluster=cluster, now=now)
    except Exception:  # noqa: BLE001 - recorded; maintenance data must not lose the poll
        log.exception("maintenance facts of cluster %s failed", cluster.pk)
        return None


def evaluation_run(
    *, cluster: Cluster, snapshot: Snapshot, now: datetime, facts: OperationsFacts | None = None
):
    """Score SNAPSHOT for CLUSTER with its maintenance FACTS (read now when not given), store
    the evaluation and queue its notifications in the same transaction."""
    if facts is None:
        facts = maintenance_selectors.operations_facts(cluster=cluster, now=now)
    with transaction.atomic():
        outcome = readiness_services.evaluation_run(
            cluster=cluster, snapshot=snapshot, now=now, operations=facts
        )
        if outcome.notices:
            maintenance_services.notifications_enqueue(
                cluster=cluster,
                notifications=[
                    maintenance_services.Notification(
                        kind=n.kind, subject_key=n.subject_key, title=n.title, body=n.body
                    )
                    for n in outcome.notices
                ],
                now=now,
            )
    return outcome.evaluation


def _score(*, cluster: Cluster, snapshot: Snapshot, facts: OperationsFacts, now: datetime) -> None:
    try:
        evaluation_run(cluster=cluster, snapshot=snapshot, now=now, facts=facts)
    except DatabaseFault:
        raise  # the database failed, not the scoring: the poll is recorded as failed
    except Exception:  # noqa: BLE001 - recorded; a scoring bug must not lose the poll
        log.exception("scoring cluster %s failed", cluster.pk)


def _rescore_unscored(*, cluster: Cluster, now: datetime) -> None:
    """Score the latest stored snapshot if no evaluation covers it (a previous poll stored it
    and then lost the database before scoring): no snapshot is left without its evaluation."""
    if not readiness_selectors.snapshot_unscored(cluster=cluster):
        return
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is None:
        return
    log.info("re-scoring the unscored snapshot of cluster %s", cluster.pk)
    facts = _operations_facts(cluster=cluster, now=now)
    if facts is not None:
        _score(cluster=cluster, snapshot=snapshot, facts=facts, now=now)


def _notify(notify, **kwargs) -> None:
    """Queue an outage notice (dashboard.outages); a failure is logged, the poll is kept. A
    database error is the poll's: raised, so that the poll is recorded as failed."""
    try:
        notify(**kwargs)
    except DatabaseFault:
        raise
    except Exception:  # noqa: BLE001 - recorded; notifications must not lose the poll
        log.exception("%s for cluster %s failed", notify.__name__, kwargs["cluster"].pk)


def cluster_rescore(*, cluster: Cluster, now: datetime) -> None:
    """Score the cluster's latest snapshot again (after a waiver change); nothing without one."""
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is not None:
        evaluation_run(cluster=cluster, snapshot=snapshot, now=now)


def waivers_expire(*, now: datetime) -> int:
    """Record the expiry of waivers past their date and notify their owners (one transaction);
    returns how many expired."""
    with transaction.atomic():
        expired = readiness_services.waivers_expire(now=now)
        for waiver in expired:
            maintenance_services.notification_enqueue(
                cluster=waiver.cluster,
                kind="waiver_expired",
                subject_key=f"waiver|{waiver.id}",
                title=f"{waiver.cluster.name}: waiver of {waiver.rule} expired",
                body=f"The waiver of {waiver.rule} ({waiver.selector or 'every object'}) owned "
                f"by {waiver.owner.get_username()} expired on {waiver.expires_at:%Y-%m-%d %H:%M} "
                f"UTC; its checks count again. Reason given: {waiver.reason}",
                now=now,
                also_to=(waiver.owner.email,)
                if cluster_selectors.may(waiver.owner, waiver.cluster, VIEWER)
                else (),  # an owner who left the cluster's team is told nothing about it
            )
    return len(expired)
