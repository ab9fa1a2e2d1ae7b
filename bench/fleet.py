"""A fleet of SIZE.fleet_clusters clusters of FLEET_NODES nodes, each due every POLL_INTERVAL
seconds, polled for SIZE.fleet_seconds of real time against one fake Engine API (bench.engine,
a thread of this process, loopback only) by two worker processes.

The schedule is the product's: every beat interval (CELERY_BEAT_SCHEDULE["enqueue-due-polls"])
this process runs clusters.polling.polls_due, what dashboard.tasks.enqueue_due_polls runs, and
hands the claimed ids to the workers in order (the broker's part); each worker runs the body
of dashboard.tasks.poll_cluster (claim, fetch, persist, score, release). Celery itself is left
out: its broker adds its own latency, not the product's.

Figures: polls per second against the rate the schedule asks for, the lag of each poll behind
the moment its cluster became due (once the first round is done), overlapping polls of one
cluster (must be none), worker RSS, and the beat entry: one schedule entry and the same
statements per tick whether a tenth of the fleet or all of it is due.
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import statistics
import sys
import time
from datetime import UTC, datetime

from bench.engine import swarm_engine
from bench.figures import Figure, at_least, below
from bench.sizes import FLEET_NODES, POLL_INTERVAL, Size

PREFIX = "fleet-"
SERVICES, TASKS = 40, 120  # per cluster of the fleet
WORKERS = 2


def _worker(jobs, results, base_dir: str) -> None:
    """A worker process: poll each (cluster id, due time) it is handed until None."""
    sys.path.insert(0, base_dir)
    import django  # deferred: a spawned process sets Django up itself

    django.setup()
    from dashboard.tasks import poll_cluster  # deferred: after django.setup

    while (job := jobs.get()) is not None:
        cluster_id, due = job
        start = time.time()
        ok = True
        try:
            poll_cluster(cluster_id)
        except Exception as exc:  # noqa: BLE001 - reported as a failed poll
            ok = False
            print(f"bench fleet: poll of {cluster_id} raised {exc!r}", file=sys.stderr)
        results.put((cluster_id, due, start, time.time(), ok))
    results.put(("rss", peak_rss_kib()))


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB: VmHWM, the peak of its own address space. Not
    getrusage's ru_maxrss: Linux carries the parent's peak over into a spawned child (the
    address space replaced at exec counts), so a worker spawned after the swarm part reported
    the bench's own peak (1.5 GiB at full size, 269 MiB at a tenth), not its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def add_fleet(count: int, url: str) -> list[int]:
    """COUNT clusters (named PREFIX + number) answering at URL, due now."""
    from accounts.models import Team  # deferred: Django is set up by bench.__main__
    from clusters.models import Cluster  # deferred: as above

    have = Cluster.objects.filter(name__startswith=PREFIX).count()
    team = Team.default()
    Cluster.objects.bulk_create(
        Cluster(name=f"{PREFIX}{n:05}", url=url, poll_interval=POLL_INTERVAL, team=team)
        for n in range(have, count)
    )
    return list(Cluster.objects.filter(name__startswith=PREFIX).values_list("pk", flat=True))


def _tick(now: datetime) -> tuple[list[tuple[int, float]], int, float]:
    """One beat: (cluster id, due epoch) claimed, statements and seconds of polls_due."""
    from django.db import connection  # deferred: Django is set up by bench.__main__
    from django.db.models import Q  # deferred: as above
    from django.test.utils import CaptureQueriesContext  # deferred: as above

    from clusters import polling  # deferred: as above
    from clusters.models import Cluster  # deferred: as above

    # The bench reads when each was due (not part of the tick it measures).
    due_at = dict(
        Cluster.objects.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", "next_poll_at")
    )  # fmt: skip
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        claimed = polling.polls_due(now=now)
    seconds = time.perf_counter() - start
    jobs = [(pk, (due_at.get(pk) or now).timestamp()) for pk in claimed]
    return jobs, len(queries), seconds


def _beat_statements(size: Size, url: str) -> tuple[int, int]:
    """Statements of one tick with a tenth of the fleet due, then with all of it (the ticks'
    claims are undone: the run starts with every cluster due)."""
    from clusters.models import Cluster  # deferred: Django is set up by bench.__main__

    now = datetime.now(tz=UTC)
    add_fleet(max(1, size.fleet_clusters // 10), url)
    _, small, _ = _tick(now)
    add_fleet(size.fleet_clusters, url)
    Cluster.objects.update(next_poll_at=None)
    _, full, _ = _tick(now)
    Cluster.objects.update(next_poll_at=None)
    return small, full


def run(size: Size) -> list[Figure]:
    from django.conf import settings  # deferred: Django is set up by bench.__main__

    from bench.__main__ import BASE_DIR, reset  # deferred: as above

    reset()
    beat = settings.CELERY_BEAT_SCHEDULE
    beat_interval = float(beat["enqueue-due-polls"]["schedule"])
    now = datetime.now(tz=UTC)
    engine = swarm_engine(now, FLEET_NODES, SERVICES, TASKS)
    context = multiprocessing.get_context("spawn")
    jobs, results = context.Queue(), context.Queue()
    workers = [
        context.Process(target=_worker, args=(jobs, results, str(BASE_DIR)), daemon=True)
        for _ in range(WORKERS)
    ]
    try:
        tick_small, tick_full = _beat_statements(size, engine.url)
        for worker in workers:
            worker.start()
        started = time.time()
        ends = started + size.fleet_seconds
        tick_seconds = []
        while time.time() < ends:
            claimed, _, seconds = _tick(datetime.now(tz=UTC))
            tick_seconds.append(seconds)
            for job in claimed:
                jobs.put(job)
            time.sleep(max(0.0, min(beat_interval, ends - time.time())))
        backlog = 0
        while True:  # what was handed out but not started by the end is left undone
            try:
                jobs.get(timeout=0.5)
                backlog += 1
            except queue.Empty:
                break
        for _ in workers:
            jobs.put(None)
        polls, rss = [], []
        while len(rss) < len(workers):
            item = results.get(timeout=120)
            if item[0] == "rss":
                rss.append(item[1] / 1024)
            else:
                polls.append(item)
        for worker in workers:
            worker.join(timeout=30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        engine.close()
    ended = max((p[3] for p in polls), default=time.time())
    rate = len(polls) / (ended - started)
    wanted = size.fleet_clusters / POLL_INTERVAL
    first_round = [p for p in polls if p[1] < started + 1]
    capacity = len(first_round) / max(1e-9, max(p[3] for p in first_round) - started)
    # Lag in the steady state: polls of clusters due after the first round was handed out.
    lags = sorted(p[2] - p[1] for p in polls if p[1] >= started + 1) or [0.0]
    p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
    overlaps = 0
    by_cluster: dict[int, list] = {}
    for cluster_id, _, start, end, _ in polls:
        by_cluster.setdefault(cluster_id, []).append((start, end))
    for spans in by_cluster.values():
        spans.sort()
        overlaps += sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])
    failed = sum(1 for p in polls if not p[4])
    poll_entries = [k for k, e in beat.items() if "poll" in e["task"] and "prune" not in k]
    shape = f"{size.fleet_clusters:,} clusters x {FLEET_NODES} nodes, every {POLL_INTERVAL} s"
    return [
        Figure("fleet.polls_per_second", round(rate, 2), "polls/s",
               note=f"{shape} (asks {wanted:.2f}/s); {len(polls):,} polls in "
                    f"{ended - started:.0f} s, 2 workers"),
        at_least("fleet.capacity", round(capacity, 2), "polls/s", round(wanted, 2),
                 f"first round: all {len(first_round):,} clusters due at once"),
        below("fleet.lag_p95", round(p95, 1), "s", beat_interval + 5,
              f"behind the due time, polls due after the start; median "
              f"{statistics.median(lags):.1f} s, beat every {beat_interval:g} s"),
        Figure("fleet.lag_max", round(lags[-1], 1), "s"),
        Figure("fleet.backlog_at_end", backlog, "polls",
               note="claimed but not started when the run ended"),
        Figure("fleet.overlapping_polls", overlaps, "polls", "== 0", overlaps == 0,
               "two polls of one cluster at once"),
        Figure("fleet.failed_polls", failed, "polls", "== 0", failed == 0),
        Figure("fleet.worker_peak_rss", round(max(rss, default=0), 1), "MiB",
               note="peak RSS of a worker process (VmHWM)"),
        Figure("fleet.beat_entries", len(poll_entries), "entries", "== 1",
               len(poll_entries) == 1, "CELERY_BEAT_SCHEDULE entries that poll"),
        Figure("fleet.beat_tick_sql", tick_full, "statements", f"== {tick_small}",
               tick_full == tick_small, "one tick, all clusters due; target: a tenth due"),
        Figure("fleet.beat_tick_median", round(1000 * statistics.median(tick_seconds), 1),
               "ms", note="polls_due per beat"),
    ]  # fmt: skip
