"""Server time of the pages people live in: the fleet with 500 clusters, the cluster page of the
10,000-task synthetic swarm. Median of several requests through Django's test client.

The cluster page lists its first 100 nodes and services (problems first); the same page with
every one of its 500 nodes and 2,000 services (?nodes=all&services=all) is reported too,
without a target."""

import statistics
import time
from datetime import UTC, timedelta

CLUSTERS = 500
REPEATS = 7


def _median_ms(client, url: str) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url, HTTP_HOST="127.0.0.1")
            times.append(1000 * (time.perf_counter() - start))
        if response.status_code != 200:
            raise SystemExit(f"bench: {url} answered {response.status_code}")
    return statistics.median(times), len(queries)


def _fleet(now) -> None:
    """500 clusters, each with 30 days of daily evaluations."""
    from clusters.models import Cluster
    from readiness.models import Evaluation

    Cluster.objects.filter(name__startswith="fleet-").delete()
    clusters = Cluster.objects.bulk_create(
        Cluster(
            name=f"fleet-{n:03}",
            url="unix:///run/docker.sock",
            last_poll_at=now,
            last_poll_ok=True,
            last_success_at=now,
        )  # fmt: skip
        for n in range(CLUSTERS)
    )
    Evaluation.objects.bulk_create(
        Evaluation(
            cluster=cluster,
            environment="production",
            snapshot_at=now - timedelta(days=d),
            evaluated_at=now - timedelta(days=d),
            score=60 + (n + d) % 40,
            grade="CBA"[(n + d) % 3],
            summary={"critical": n % 4},
        )  # fmt: skip
        for n, cluster in enumerate(clusters)
        for d in range(30)
    )


def run() -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.services import user_set_role
    from bench.bench_clusters import _poll_once, serve, synthetic_swarm
    from clusters.models import Cluster

    now = timezone.now().astimezone(UTC)
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    user_set_role(user=user, role="viewer")
    client = Client()
    client.force_login(user)

    server = serve(synthetic_swarm(now))
    try:
        Cluster.objects.filter(name="bench-page").delete()
        cluster = Cluster.objects.create(
            name="bench-page", url=f"tcp://127.0.0.1:{server.server_port}"
        )
        _poll_once(cluster, now)
    finally:
        server.shutdown()
    cluster_ms, cluster_sql = _median_ms(client, "/clusters/bench-page/")
    all_ms, all_sql = _median_ms(client, "/clusters/bench-page/?nodes=all&services=all")
    cluster.delete()

    _fleet(now)
    fleet_ms, fleet_sql = _median_ms(client, "/")
    Cluster.objects.filter(name__startswith="fleet-").delete()
    return {
        "fleet_500_clusters_ms": round(fleet_ms, 1),
        "fleet_sql": fleet_sql,
        "cluster_page_10000_tasks_ms": round(cluster_ms, 1),
        "cluster_page_sql": cluster_sql,
        "cluster_page_all_rows_ms": round(all_ms, 1),
        "cluster_page_all_rows_sql": all_sql,
        "targets": {
            "fleet page with 500 clusters under 150 ms": fleet_ms < 150,
            "cluster page of the 10,000-task swarm under 300 ms": cluster_ms < 300,
        },
    }


def table(result: dict) -> str:
    return "\n".join(
        [
            f"  fleet page      {result['fleet_500_clusters_ms']} ms "
            f"(500 clusters, {result['fleet_sql']} SQL)",
            f"  cluster page    {result['cluster_page_10000_tasks_ms']} ms "
            f"(10,000 running tasks, {result['cluster_page_sql']} SQL)",
            f"  every row       {result['cluster_page_all_rows_ms']} ms "
            f"(500 nodes, 2,000 services listed, {result['cluster_page_all_rows_sql']} SQL)",
        ]
    )
