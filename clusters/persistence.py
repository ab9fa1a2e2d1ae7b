"""Writes of a poll's results: the snapshot, the node/service/task rows, node transitions,
failed polls, and the thinning of old history."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter

import orjson
from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.db.models import CharField, F, JSONField, Max, Subquery
from django.db.models.functions import Coalesce

from clusters import connection
from clusters.models import (
    Cluster,
    Node,
    NodeTransition,
    PollRun,
    PollSnapshot,
    RunningTask,
    Service,
)
from clusters.polling import claim_held
from clusters.snapshot import Snapshot
from watchkeeper.history import thin_per_cluster
from watchkeeper.pgarray import array_text

# --- persisting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    node_id: str
    from_state: str
    to_state: str
    at: datetime
    source: str


def node_transitions(*, previous: dict[str, str], snapshot: Snapshot) -> list[Transition]:
    """State changes of known nodes: from node events, then from the state seen across polls.

    Pure: PREVIOUS maps node id -> state at the last good poll.
    """
    by_node: dict[str, list] = {}
    for event in snapshot.events:
        if event.type == "node" and "state.new" in event.attributes:
            by_node.setdefault(event.actor_id, []).append(event)
    out = []
    for node in snapshot.nodes:
        current = previous.get(node.id)
        if current is None:
            continue  # first sight of the node: its joining events are no transitions
        for event in by_node.get(node.id, []):
            new = event.attributes["state.new"]
            old = event.attributes.get("state.old") or current or "unknown"
            if new != old:
                out.append(Transition(node.id, old, new, event.time, "event"))
            current = new
        if current != node.state:
            out.append(Transition(node.id, current, node.state, snapshot.taken_at, "poll"))
    return out


NODE_FIELDS = (
    "hostname", "role", "state", "availability", "cpus", "memory_bytes", "engine_version",
    "addr", "leader", "reachability", "labels", "removed_at",
)  # fmt: skip
SERVICE_FIELDS = (
    "name", "image", "mode", "replicas", "running_tasks", "desired_tasks", "constraints",
    "memory_limit", "memory_reservation", "cpu_limit", "cpu_reservation", "healthcheck",
    "labels", "removed_at",
)  # fmt: skip
TASK_FIELDS = ("node_id", "service_id", "slot", "state")


def _compared(fields: tuple) -> tuple:
    """The FIELDS a row's digest covers: all but removed_at (a returning row is rewritten)."""
    return tuple(name for name in fields if name != "removed_at")


def row_digest(values: dict, fields: tuple) -> str:
    """A stable hash of a row's FIELDS (JSON values with sorted keys)."""
    data = orjson.dumps(
        [values[name] for name in fields],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _service_row(service) -> tuple[dict, str]:
    """The service's stored fields and their digest. The digest is made once per Service
    object (a poll reuses the objects of services the API reports unchanged: see
    normalize.Reuse) and kept in its memo (clusters.snapshot.Memo.stored_digest); the row is
    made again, a few attribute reads, rather than kept between polls for every service."""
    compared = _compared(SERVICE_FIELDS)  # the snapshot's Service has each of them
    row = {name: getattr(service, name) for name in compared}
    digest = service.memo.stored_digest
    if digest is None:
        digest = service.memo.stored_digest = row_digest(row, compared)
    return row | {"removed_at": None}, digest


def _sync(
    model,
    *,
    cluster: Cluster,
    rows: dict[str, dict],
    fields: tuple,
    now: datetime,
    existing: dict | None = None,
    also: tuple = (),
    digests: dict[str, str] | None = None,
):
    """Upsert the ROWS (swarm id -> field values) that are new or changed; mark the missing.

    Four statements whatever the size: read, upsert, mark removed (or delete), touch.
    Models with a ``digest`` column are compared by the hash of their FIELDS (no JSON field is
    read back; DIGESTS, swarm id -> digest over _compared(FIELDS), when the caller has them),
    others field by field. Returns swarm id -> primary key for every row;
    EXISTING (a dict) receives the rows as they were: swarm id -> (pk, *ALSO) of the rows not
    marked removed for models with a digest, (pk, *FIELDS) of every row for the others.
    """
    if existing is None:
        existing = {}
    digested = hasattr(model, "digest")
    timestamps = hasattr(model, "last_seen_at")
    if digested:
        compared = _compared(fields)
        state = {}
        # Live rows only: the removed ones (kept for history, more every week of a swarm whose
        # stacks are redeployed) would all be "gone" again in every poll's UPDATE. One that
        # comes back is not in STATE, so it is upserted (its removed_at cleared) like a new one.
        for swarm_id, pk, digest, *rest in model.objects.filter(
            cluster=cluster, removed_at__isnull=True
        ).values_list("swarm_id", "pk", "digest", *also):
            state[swarm_id] = digest
            existing[swarm_id] = (pk, *rest)
        changed = []
        for swarm_id, values in rows.items():
            digest = digests[swarm_id] if digests is not None else row_digest(values, compared)
            if state.get(swarm_id) != digest:
                changed.append((swarm_id, {**values, "digest": digest}))
        update_fields = [*fields, "digest"]
    else:
        # Read with a plain cursor: the model's values_list costs some 2 µs a row in Django,
        # 0.2 s for the 100,000 running tasks of a big swarm (the columns are plain ones).
        meta = model._meta
        columns = ", ".join(meta.get_field(name).column for name in ("swarm_id", "id", *fields))
        with db.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {meta.db_table} WHERE cluster_id = %s",  # noqa: S608
                [cluster.pk],
            )
            existing.update((row[0], row[1:]) for row in cursor.fetchall())
        stored_fields = itemgetter(*fields) if len(fields) > 1 else lambda v: (v[fields[0]],)
        changed = [
            (swarm_id, values)
            for swarm_id, values in rows.items()
            if existing.get(swarm_id, (None,))[1:] != stored_fields(values)
        ]
        update_fields = list(fields)
    pks = {swarm_id: values[0] for swarm_id, values in existing.items()}
    if timestamps:
        changed = [(s, {**v, "first_seen_at": now, "last_seen_at": now}) for s, v in changed]
        update_fields.append("last_seen_at")
    pks.update(_upsert(model, cluster=cluster, rows=changed, update_fields=update_fields))
    gone = [swarm_id for swarm_id in existing if swarm_id not in rows]
    if timestamps:
        # Live rows are seen by every good poll (their last_seen_at is the cluster's
        # last_success_at: see clusters.models.Node.seen_at), so they are not touched each poll
        # (20,000 services and 5,000 nodes rewritten a minute: 0.4 s and as many dead rows).
        # A row gone now was last seen by the previous good poll, whose time the cluster row
        # still holds in this transaction.
        model.objects.filter(cluster=cluster, swarm_id__in=gone, removed_at__isnull=True).update(
            removed_at=now,
            last_seen_at=Coalesce(
                Subquery(Cluster.objects.filter(pk=cluster.pk).values("last_success_at")),
                F("last_seen_at"),
            ),
        )
    else:
        model.objects.filter(cluster=cluster, swarm_id__in=gone).delete()
    return pks


def _upsert(model, *, cluster: Cluster, rows: list, update_fields: list[str]) -> dict[str, int]:
    """Insert ROWS ((swarm id, {field: value}), all with the same fields) of MODEL for
    CLUSTER, updating UPDATE_FIELDS of the rows that exist: one statement; returns swarm id ->
    primary key of each.

    PostgreSQL gets the rows as one array literal per column (INSERT ... SELECT FROM UNNEST
    ... ON CONFLICT DO UPDATE): no model instance per row, which at 100,000 tasks is most of what
    bulk_create spends. Text goes as text[] and is assigned to its varchar column, so a value
    too long fails as in a bulk insert (an explicit varchar(n) cast would cut it). Other
    databases: bulk_create.
    """
    if not rows:
        return {}
    if db.vendor != "postgresql":
        created = model.objects.bulk_create(
            [model(cluster=cluster, swarm_id=swarm_id, **values) for swarm_id, values in rows],
            update_conflicts=True,
            unique_fields=["cluster", "swarm_id"],
            update_fields=update_fields,
        )
        return {obj.swarm_id: obj.pk for obj in created}
    meta = model._meta
    names = list(rows[0][1])
    fields = [meta.get_field(name) for name in names]
    arrays = [array_text([swarm_id for swarm_id, _ in rows])]
    types = ["text"]
    for name, field in zip(names, fields, strict=True):
        column = [values[name] for _, values in rows]
        if isinstance(field, JSONField):
            column = [None if v is None else orjson.dumps(v).decode() for v in column]
        arrays.append(array_text(column))
        types.append("text" if isinstance(field, CharField) else field.db_type(db))
    columns = ", ".join(["swarm_id", *(field.column for field in fields)])
    unnest = ", ".join(f"%s::{kind}[]" for kind in types)
    updates = ", ".join(
        f"{meta.get_field(name).column} = EXCLUDED.{meta.get_field(name).column}"
        for name in update_fields
    )
    sql = (  # names from the model's meta; every value is a parameter
        f"INSERT INTO {meta.db_table} (cluster_id, {columns}) SELECT %s, * FROM UNNEST({unnest}) "  # noqa: S608
        f"ON CONFLICT (cluster_id, swarm_id) DO UPDATE SET {updates} RETURNING swarm_id, id"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [cluster.pk, *arrays])
        return dict(cursor.fetchall())


def poll_persist(
    *,
    cluster: Cluster,
    snapshot: Snapshot,
    started_at: datetime,
    duration_ms: int,
    events_until: datetime | None,
    claimed_at: datetime | None = None,
) -> tuple[PollRun, list[Transition]]:
    """Store one good poll in one transaction with bulk writes (statement count is constant).

    Only new or changed nodes, services and tasks are written; removed nodes and services
    are marked removed (history kept), tasks no longer running are deleted. With CLAIMED_AT,
    nothing is written unless that poll claim still holds (else ClaimLost).
    """
    now = snapshot.taken_at
    # The stored form is made on a thread of its own while this one waits for the database:
    # 0.7 s of encoding and compressing at 100,000 tasks, mostly overlapped (the snapshot is
    # not changed by persisting; an encoding error is raised by result() as before).
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-encode")
    stored = encoder.submit(PollSnapshot.compress, snapshot)
    encoder.shutdown(wait=False)  # the thread ends once the encoding is done
    with transaction.atomic():
        claim_held(cluster=cluster, claimed_at=claimed_at)
        known_nodes: dict[str, tuple] = {}
        node_pk = _sync(
            Node,
            cluster=cluster,
            now=now,
            fields=NODE_FIELDS,
            existing=known_nodes,
            also=("state",),
            rows={
                n.id: {
                    "hostname": n.hostname,
                    "role": n.role,
                    "state": n.state,
                    "availability": n.availability,
                    "cpus": n.cpus,
                    "memory_bytes": n.memory_bytes,
                    "engine_version": n.engine_version,
                    "addr": n.addr,
                    "leader": n.leader,
                    "reachability": n.reachability or "",
                    "labels": n.labels,
                    "removed_at": None,
                }  # fmt: skip
                for n in snapshot.nodes
            },
        )
        service_rows = [(s, _service_row(s)) for s in snapshot.services]
        service_pk = _sync(
            Service,
            cluster=cluster,
            now=now,
            fields=SERVICE_FIELDS,
            rows={s.id: row for s, (row, _) in service_rows},
            digests={s.id: digest for s, (_, digest) in service_rows},
        )
        _sync(
            RunningTask,
            cluster=cluster,
            now=now,
            fields=TASK_FIELDS,
            rows={
                t.id: {
                    "node_id": node_pk.get(t.node_id or ""),
                    "service_id": service_pk.get(t.service_id),
                    "slot": t.slot,
                    "state": t.state,
                }
                for t in snapshot.tasks
                if t.desired_state == "running"
            },
        )
        # node id -> state at the last good poll (_sync reads the nodes not marked removed)
        previous = {swarm_id: state for swarm_id, (_, state) in known_nodes.items()}
        transitions = node_transitions(previous=previous, snapshot=snapshot)
        _down_runs_track(cluster=cluster, now=now)
        NodeTransition.objects.bulk_create(
            [
                NodeTransition(
                    cluster=cluster,
                    node_id=node_pk[t.node_id],
                    from_state=t.from_state,
                    to_state=t.to_state,
                    at=t.at,
                    source=t.source,
                )
                for t in transitions
            ],
            ignore_conflicts=True,
        )
        run = PollRun.objects.create(
            cluster=cluster,
            started_at=started_at,
            duration_ms=duration_ms,
            ok=True,
            nodes=len(snapshot.nodes),
            services=len(snapshot.services),
            tasks=len(snapshot.running_tasks()),
            events=len(snapshot.events),
            events_until=events_until,
            events_truncated=snapshot.events_truncated,
        )
        PollSnapshot.objects.create(
            poll_run=run,
            cluster=cluster,
            taken_at=snapshot.taken_at,
            data=stored.result(),
        )
        Cluster.objects.filter(pk=cluster.pk).update(
            last_poll_at=started_at, last_poll_ok=True, last_poll_error="", last_success_at=now
        )
    return run, transitions


def poll_failure_record(
    *,
    cluster: Cluster,
    started_at: datetime,
    duration_ms: int,
    failure: connection.PollFailed,
    claimed_at: datetime | None = None,
) -> PollRun:
    """Record a failed poll; the last good snapshot and nodes stay as they were. With
    CLAIMED_AT, nothing is written unless that poll claim still holds (else ClaimLost)."""
    message = failure.message[:500]
    with transaction.atomic():
        claim_held(cluster=cluster, claimed_at=claimed_at)
        run = PollRun.objects.create(
            cluster=cluster,
            started_at=started_at,
            duration_ms=duration_ms,
            ok=False,
            error_kind=failure.kind,
            error=message,
        )
        Cluster.objects.filter(pk=cluster.pk).update(
            last_poll_at=started_at, last_poll_ok=False, last_poll_error=message
        )
        # The manager did not answer (or Watchkeeper could not ask it): every node's run of
        # "seen down" ends; the next good poll starts a new one.
        Node.objects.filter(cluster=cluster, down_since__isnull=False).update(down_since=None)
    return run


SEEN_DOWN = ("down", "disconnected")  # states that start a node's "seen down" run


def _down_runs_track(*, cluster: Cluster, now: datetime) -> None:
    """Start the "seen down" run of nodes now down or disconnected; end it for the others
    ("unknown" included: a manager that just restarted does not know yet)."""
    Node.objects.filter(
        cluster=cluster, removed_at__isnull=True, state__in=SEEN_DOWN, down_since__isnull=True
    ).update(down_since=now)
    Node.objects.filter(cluster=cluster, down_since__isnull=False).exclude(
        state__in=SEEN_DOWN, removed_at__isnull=True
    ).update(down_since=None)


def history_prune(*, now: datetime) -> dict[str, int]:
    """Thin old snapshots to one per day and drop old snapshot-less poll runs.

    The latest snapshot of each cluster always stays (it is what re-scoring reads).
    """

    latest = set(
        PollSnapshot.objects.values("cluster_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    snapshots = thin_per_cluster(PollSnapshot, time_field="taken_at", now=now, keep=latest)
    runs, _ = PollRun.objects.filter(
        started_at__lt=now - timedelta(days=settings.WATCHKEEPER_POLL_RUN_DAYS),
        snapshot__isnull=True,
    ).delete()
    return {"snapshots": snapshots, "poll_runs": runs}
