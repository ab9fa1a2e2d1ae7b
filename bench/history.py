"""The fleet of bench.fleet after a simulated 400 days of history, as retention leaves it.

Each cluster is polled every POLL_INTERVAL seconds, and each good poll stores a poll run, a
snapshot, an evaluation and its checks. Retention (clusters.tasks.prune_history and
readiness.tasks.prune_history) keeps everything for WATCHKEEPER_DETAIL_HOURS, then one snapshot
and one evaluation per UTC day for WATCHKEEPER_HISTORY_DAYS, checks only for each cluster's
latest two evaluations (what changed is kept as FailureChange rows for 8 days), and
snapshot-less poll runs for WATCHKEEPER_POLL_RUN_DAYS. The bench writes that state
directly in SQL, copying each cluster's real rows from the fleet run (writing 400 days poll by
poll would take 400 days), then runs both prune tasks on it:

- every cluster gets its evaluations (detail window + one a day), the rows the fleet page
  reads, with their score columns as polled and the explanation left empty;
- SIZE.history_sample clusters get everything, byte for byte as polled: poll runs, snapshots,
  evaluations with their explanation and checks. Their size per cluster, measured, times the
  fleet is the fleet's database size (reported as such: extrapolated from the sample).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from bench import fleet, pages
from bench.engine import swarm_engine
from bench.figures import Figure, below
from bench.sizes import FLEET_NODES, POLL_INTERVAL, Size

MIB = 1024**2


def _sql(statement: str, params=()) -> list:
    from django.db import connection  # deferred: Django is set up by bench.__main__

    clock = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  {time.perf_counter() - clock:6.1f} s {cursor.rowcount:>9} rows "
                  f"{' '.join(statement.split())[:90]}", flush=True)  # fmt: skip
        return cursor.fetchall() if cursor.description else []


def _tables_bytes() -> int:
    return _sql(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r'"
    )[0][0]


def _ensure_polled(size: Size) -> None:
    """The fleet's clusters with one good poll each (bench.fleet ran before, or now)."""
    from clusters.models import Cluster  # deferred: Django is set up by bench.__main__
    from dashboard import pipeline  # deferred: as above

    unpolled = Cluster.objects.filter(name__startswith=fleet.PREFIX, evaluations__isnull=True)
    if Cluster.objects.filter(name__startswith=fleet.PREFIX).exists() and not unpolled.exists():
        return
    engine = swarm_engine(datetime.now(tz=UTC), FLEET_NODES, fleet.SERVICES, fleet.TASKS)
    try:
        fleet.add_fleet(size.fleet_clusters, engine.url)
        for cluster in unpolled.distinct():
            pipeline.cluster_poll(cluster=cluster)
    finally:
        engine.close()


def _light(detail_polls: int, days: int, sample: list[int]) -> int:
    """Evaluations (score columns only) of every cluster not in SAMPLE, as retention keeps
    them; returns how many."""
    rows = _sql(
        "WITH latest AS (SELECT DISTINCT ON (cluster_id) * FROM readiness_evaluation "
        "  WHERE NOT cluster_id = ANY(%s) ORDER BY cluster_id, evaluated_at DESC, id DESC), "
        "first AS (SELECT cluster_id, min(evaluated_at) AS at FROM readiness_evaluation "
        "  GROUP BY cluster_id), "
        "instants AS (SELECT l.*, f.at - k * %s * interval '1 second' AS t, k AS n "
        "  FROM latest l JOIN first f USING (cluster_id), generate_series(1, %s) k "
        "  UNION ALL SELECT l.*, date_trunc('day', f.at) - d * interval '1 day', d "
        "  FROM latest l JOIN first f USING (cluster_id), generate_series(3, %s) d) "
        "INSERT INTO readiness_evaluation (cluster_id, environment, snapshot_at, evaluated_at,"
        " score, grade, grade_capped, categories, summary, rules, new_failures, "
        " resolved_failures) "
        "SELECT cluster_id, environment, t, t, greatest(0, score - n %% 5), grade, "
        "grade_capped, categories, summary, '[]', '[]', '[]' FROM instants RETURNING 1",
        [sample, POLL_INTERVAL, detail_polls, days],
    )  # fmt: skip
    return len(rows)


def _full(detail_polls: int, run_days: int, days: int, sample: list[int]) -> None:
    """Everything of the SAMPLE clusters: poll runs for RUN_DAYS (a snapshot and an evaluation
    for the detail window and the first of each day), daily ones to DAYS."""
    top_run = _sql("SELECT coalesce(max(id), 0) FROM clusters_pollrun")[0][0]
    polls_per_day = 86400 // POLL_INTERVAL
    _sql(
        "WITH latest AS (SELECT DISTINCT ON (cluster_id) * FROM clusters_pollrun "
        "  WHERE cluster_id = ANY(%s) AND ok ORDER BY cluster_id, started_at DESC), "
        "first AS (SELECT cluster_id, min(started_at) AS at FROM clusters_pollrun "
        "  GROUP BY cluster_id) "
        "INSERT INTO clusters_pollrun (cluster_id, started_at, duration_ms, ok, error_kind, "
        " error, nodes, services, tasks, events, events_until, events_truncated) "
        "SELECT l.cluster_id, t, l.duration_ms, true, '', '', l.nodes, l.services, l.tasks, "
        " l.events, t, false FROM latest l JOIN first f USING (cluster_id), LATERAL ("
        "  SELECT f.at - k * %s * interval '1 second' AS t FROM generate_series(1, %s) k "
        "  UNION ALL SELECT date_trunc('day', f.at) - d * interval '1 day' + interval '30 s' "
        "  FROM generate_series(%s, %s) d) instants",
        [sample, POLL_INTERVAL, run_days * polls_per_day, run_days + 1, days],
    )  # fmt: skip
    detail_from = _sql("SELECT min(started_at) FROM clusters_pollrun WHERE id <= %s", [top_run])[0][
        0
    ] - timedelta(seconds=POLL_INTERVAL * detail_polls)
    _sql(
        "WITH latest AS (SELECT DISTINCT ON (cluster_id) cluster_id, data "
        "  FROM clusters_pollsnapshot WHERE cluster_id = ANY(%s) "
        "  ORDER BY cluster_id, taken_at DESC) "
        "INSERT INTO clusters_pollsnapshot (poll_run_id, cluster_id, taken_at, data) "
        "SELECT r.id, r.cluster_id, r.started_at, l.data FROM clusters_pollrun r "
        "JOIN latest l USING (cluster_id) WHERE r.id > %s AND (r.started_at >= %s "
        " OR r.started_at - date_trunc('day', r.started_at) < %s * interval '1 second')",
        [sample, top_run, detail_from, POLL_INTERVAL],
    )  # fmt: skip
    _sql(
        "WITH latest AS (SELECT DISTINCT ON (cluster_id) * FROM readiness_evaluation "
        "  WHERE cluster_id = ANY(%s) ORDER BY cluster_id, evaluated_at DESC, id DESC) "
        "INSERT INTO readiness_evaluation (cluster_id, environment, snapshot_at, evaluated_at,"
        " score, grade, grade_capped, categories, summary, rules, new_failures, "
        " resolved_failures) "
        "SELECT l.cluster_id, l.environment, s.taken_at, s.taken_at, l.score, l.grade, "
        "l.grade_capped, l.categories, l.summary, l.rules, '[]', '[]' "
        "FROM clusters_pollsnapshot s JOIN latest l USING (cluster_id) WHERE s.poll_run_id > %s",
        [sample, top_run],
    )  # fmt: skip
    # No checks: retention keeps them only for each cluster's latest two evaluations (its
    # real ones, polled by the fleet); what changed stays as its FailureChange rows.


def run(size: Size) -> list[Figure]:
    from django.conf import settings  # deferred: Django is set up by bench.__main__

    from clusters import tasks as cluster_tasks  # deferred: as above
    from clusters.models import Cluster  # deferred: as above
    from readiness import tasks as readiness_tasks  # deferred: as above

    _ensure_polled(size)
    clusters = list(
        Cluster.objects.filter(name__startswith=fleet.PREFIX).values_list("pk", flat=True)
    )
    sample = clusters[: size.history_sample]
    detail_polls = settings.WATCHKEEPER_DETAIL_HOURS * 3600 // POLL_INTERVAL
    days = settings.WATCHKEEPER_HISTORY_DAYS
    clock = time.perf_counter()
    light = _light(detail_polls, days, sample)
    before_sample = _tables_bytes()
    _full(detail_polls, settings.WATCHKEEPER_POLL_RUN_DAYS, days, sample)
    _sql("ANALYZE")
    generated = time.perf_counter() - clock
    clock = time.perf_counter()
    pruned = cluster_tasks.prune_history() | readiness_tasks.prune_history()
    prune_seconds = time.perf_counter() - clock
    _sql("ANALYZE")
    total = _tables_bytes()
    per_cluster = (total - before_sample) / max(1, len(sample))
    client = pages.login()
    fleet_ms, fleet_sql, _ = pages.measure(client, "/")
    deleted = sum(pruned.values())
    return [
        Figure("history.db_size", round(total / MIB), "MiB",
               note=f"measured: {len(clusters):,} clusters' evaluations ({light:,} rows) and "
                    f"{len(sample)} clusters' whole history; generated in {generated:.0f} s"),
        Figure("history.per_cluster", round(per_cluster / MIB, 1), "MiB",
               note=f"one {fleet.SERVICES}-service cluster's retained history, measured on "
                    f"{len(sample)}"),
        Figure("history.fleet_db_size", round(per_cluster * len(clusters) / 1024**3, 1), "GiB",
               note=f"extrapolated: per cluster x {len(clusters):,} clusters"),
        Figure("history.prune", round(prune_seconds, 1), "s",
               note=f"both prune tasks on that state; {deleted:,} rows deleted"),
        below("history.fleet_page", round(fleet_ms, 1), "ms", 200,
              f"{len(clusters):,} clusters after {days} days ({fleet_sql} statements)"),
    ]  # fmt: skip
