"""One big synthetic swarm polled through the real client over HTTP (bench.engine):
dashboard.pipeline.cluster_poll with client.fetch on tcp://127.0.0.1:PORT (plain HTTP, bench
only). The first poll inserts everything; each later poll sees a churned swarm.

Figures: first poll, steady poll (median) with fetch and processing apart, SQL statements
(compared with a swarm a tenth the size), peak memory of one poll and memory kept between polls
(tracemalloc: Python allocations made during the poll, not the process RSS). The clusters stay
for bench.pages (cluster page at both sizes).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from datetime import UTC, timedelta
from urllib.request import urlopen

from bench.engine import swarm_engine
from bench.figures import Figure, below
from bench.sizes import Size, tenth

BIG, SMALL = "bench-swarm", "bench-swarm-tenth"


def _poll_once(cluster, now):
    """Timings (fetch, normalize, persist, score, total, processing) and statement count."""
    from django.db import connection  # deferred: Django is set up by bench.__main__
    from django.test.utils import CaptureQueriesContext  # deferred: as above

    from clusters import client  # deferred: as above
    from dashboard import pipeline  # deferred: as above

    fetch_time = {}

    def timed_fetch(**kwargs):
        start = time.perf_counter()
        raw = client.fetch(**kwargs)
        fetch_time["fetch"] = time.perf_counter() - start
        return raw

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        outcome = pipeline.cluster_poll(cluster=cluster, now=now, fetch=timed_fetch)
    total = time.perf_counter() - start
    if outcome is None or not outcome.run.ok:
        raise SystemExit(f"bench poll failed: {outcome and outcome.run.error}")
    timings = dict(outcome.timings, fetch=fetch_time["fetch"], total=total)
    timings["processing"] = total - timings["fetch"]
    return timings, len(queries)


def _cluster(name: str, url: str):
    from clusters.models import Cluster  # deferred: Django is set up by bench.__main__

    Cluster.objects.filter(name=name).delete()
    return Cluster.objects.create(name=name, url=url)


def _switch(engine, generation: int) -> None:
    urlopen(f"http://{engine.url.removeprefix('tcp://')}/bench/generation/{generation}").read()


def _statements_small(size: Size, now) -> tuple[int, int]:
    """First-poll and steady-state statement counts of a swarm a tenth of SIZE, polled as
    the big one is (the same generations at the same minutes: from the second steady poll the
    nodes seen down are past the grace and notified, which adds statements at any size)."""
    small = tenth(size)
    engine = swarm_engine(now, small.nodes, small.services, small.tasks)
    try:
        cluster = _cluster(SMALL, engine.url)
        _, first = _poll_once(cluster, now)
        steady = 0
        for generation in range(1, size.steady_polls + 1):
            _switch(engine, generation)
            _, count = _poll_once(cluster, now + timedelta(minutes=generation))
            steady = max(steady, count)
    finally:
        engine.close()
    return first, steady


def run(size: Size) -> list[Figure]:
    from django.utils import timezone  # deferred: Django is set up by bench.__main__

    from clusters import polling  # deferred: as above

    now = timezone.now().astimezone(UTC)
    engine = swarm_engine(now, size.nodes, size.services, size.tasks)
    try:
        cluster = _cluster(BIG, engine.url)
        first, first_sql = _poll_once(cluster, now)
        polls = []
        for generation in range(1, size.steady_polls + 1):
            _switch(engine, generation)
            polls.append(_poll_once(cluster, now + timedelta(minutes=generation)))
        steady = {key: statistics.median(t[key] for t, _ in polls) for key in polls[0][0]}
        steady_sql = max(count for _, count in polls)
        # Memory: one more poll by a process that did not poll the cluster last (it builds
        # every object: the worst case), traced from start; what it keeps for the next poll is
        # what remains traced once its normalize.Reuse is dropped.
        generation = size.steady_polls + 1
        _switch(engine, generation)
        polling._REUSE.pop(cluster.pk, None)
        gc.collect()
        tracemalloc.start()
        _poll_once(cluster, now + timedelta(minutes=generation))
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        with_kept, _ = tracemalloc.get_traced_memory()
        polling._REUSE.pop(cluster.pk, None)
        gc.collect()
        without, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        engine.close()
    small_first, small_steady = _statements_small(size, now)
    mib = 1024**2
    shape = f"{size.nodes:,} nodes, {size.services:,} services, {size.tasks:,} tasks"
    return [
        below("swarm.first_poll", round(first["total"], 2), "s", 15, shape),
        Figure("swarm.first_poll.fetch", round(first["fetch"], 2), "s"),
        Figure("swarm.first_poll.processing", round(first["processing"], 2), "s",
               note="normalise + persist + score"),  # fmt: skip
        below("swarm.steady_poll", round(steady["total"], 2), "s", 5,
              f"median of {size.steady_polls}; churn 5% tasks, 1% services"),  # fmt: skip
        Figure("swarm.steady_poll.fetch", round(steady["fetch"], 2), "s"),
        Figure("swarm.steady_poll.processing", round(steady["processing"], 2), "s",
               "<= fetch", steady["processing"] <= steady["fetch"],
               " ".join(f"{k} {steady[k]:.2f}" for k in ("normalize", "persist", "score"))),
        Figure("swarm.sql_per_poll", steady_sql, "statements", f"== {small_steady}",
               steady_sql == small_steady, "steady; target: the count at a tenth of the size"),
        Figure("swarm.sql_first_poll", first_sql, "statements", f"== {small_first}",
               first_sql == small_first, "target: the count at a tenth of the size"),
        below("swarm.peak_memory", round(peak / mib, 1), "MiB", 600,
              "tracemalloc peak of one full poll (process RSS not included)"),
        below("swarm.kept_between_polls", round((with_kept - without) / mib, 1), "MiB", 150,
              "tracemalloc: the cluster's normalize.Reuse, per worker process"),
    ]  # fmt: skip
