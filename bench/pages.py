"""Server time (median of several requests through Django's test client) and statement counts
of the pages people live in, each at its size and at a tenth of it (counts must not grow):

- the cluster page of bench.swarm's big swarm (and its HTML size);
- the findings page with SIZE.failing_checks failing checks in the clusters' latest evaluations;
- the fleet page with SIZE.page_clusters clusters, each with 30 days of daily evaluations.
"""

from __future__ import annotations

import statistics
import time

from bench import swarm
from bench.figures import Figure, below
from bench.sizes import Size, tenth

REPEATS = 7
EVALUATION_DAYS = 30


def measure(client, url: str) -> tuple[float, int, int]:
    """Median server milliseconds, statements of one request, bytes of HTML."""
    from django.db import connection  # deferred: Django is set up by bench.__main__
    from django.test.utils import CaptureQueriesContext  # deferred: as above

    times = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url, HTTP_HOST="127.0.0.1")
            times.append(1000 * (time.perf_counter() - start))
        if response.status_code != 200:
            raise SystemExit(f"bench: {url} answered {response.status_code}")
    return statistics.median(times), len(queries), len(response.content)


def add_clusters(count: int, *, prefix: str = "fleet-") -> None:
    """Make the fleet COUNT clusters long, each with EVALUATION_DAYS daily evaluations (one SQL
    statement each: the bench's own rows, no request data)."""
    from django.db import connection  # deferred: Django is set up by bench.__main__

    from accounts.models import Team  # deferred: as above
    from clusters.models import Cluster  # deferred: as above

    have = Cluster.objects.filter(name__startswith=prefix).count()
    team = Team.default()
    Cluster.objects.bulk_create(
        Cluster(name=f"{prefix}{n:05}", url="unix:///run/docker.sock", team=team)
        for n in range(have, count)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clusters_cluster SET last_poll_at = now(), last_poll_ok = true, "
            "last_success_at = now() WHERE name LIKE %s AND last_poll_at IS NULL",
            [prefix + "%"],
        )
        cursor.execute(
            "INSERT INTO readiness_evaluation (cluster_id, environment, snapshot_at, "
            "evaluated_at, score, grade, grade_capped, categories, summary, rules, "
            "new_failures, resolved_failures) "
            "SELECT c.id, 'production', now() - d * interval '1 day', "
            "now() - d * interval '1 day', 60 + (c.id + d) %% 40, "
            "substr('CBA', (1 + (c.id + d) %% 3)::int, 1), false, '{}', "
            "jsonb_build_object('critical', c.id %% 4), '[]', '[]', '[]' "
            "FROM clusters_cluster c, generate_series(0, %s) d "
            "WHERE c.name LIKE %s AND NOT EXISTS (SELECT 1 FROM readiness_evaluation e "
            "WHERE e.cluster_id = c.id)",
            [EVALUATION_DAYS - 1, prefix + "%"],
        )
        # What autovacuum does on a live database after so many inserts (this machine's
        # server runs without it): the fleet page's plans read these statistics.
        for table in ("clusters_cluster", "readiness_evaluation", "readiness_dailyscore"):
            cursor.execute(f"ANALYZE {table}")


def add_failing_checks(total: int, *, prefix: str = "fleet-") -> None:
    """Bring the failing checks of the latest evaluations of the PREFIX clusters to TOTAL,
    spread evenly, with real rule ids, categories and severities."""
    from django.db import connection  # deferred: Django is set up by bench.__main__

    from readiness import catalogue  # deferred: as above
    from readiness.models import CheckResult  # deferred: as above

    rules = [(r.id, r.category, r.severity) for r in catalogue.all_rules()]
    have = CheckResult.objects.filter(status="fail").count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (e.cluster_id) e.id FROM readiness_evaluation e "
            "JOIN clusters_cluster c ON c.id = e.cluster_id WHERE c.name LIKE %s "
            "ORDER BY e.cluster_id, e.evaluated_at DESC, e.id DESC",
            [prefix + "%"],
        )
        latest = [row[0] for row in cursor.fetchall()]
        per = -(-(total - have) // len(latest))
        cursor.execute(
            "WITH r AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
            "WITH ORDINALITY AS r(id, category, severity, n)) "
            "INSERT INTO readiness_checkresult (evaluation_id, rule, category, severity, "
            "status, object_type, object_id, object_name, message, remediation) "
            "SELECT e, r.id, r.category, r.severity, 'fail', 'service', 'svc' || g, "
            "'stack' || (g / 20) || '_svc' || g, 'Service stack' || (g / 20) || '_svc' || g "
            "|| ' has no memory limit: one leak can take the node down.', "
            "'Set deploy.resources.limits.memory.' "
            "FROM unnest(%s::int[]) e CROSS JOIN generate_series(%s, %s) g "
            "JOIN r ON r.n = 1 + (g + e) %% %s "
            "LIMIT %s",
            [[r[0] for r in rules], [r[1] for r in rules], [r[2] for r in rules],
             latest, have, have + per - 1, len(rules), total - have],
        )  # fmt: skip
        for table in ("checkresult", "evaluation", "rulecount", "currentcount"):
            cursor.execute(f"ANALYZE readiness_{table}")  # autovacuum's, on a live database


def login():
    """A test client logged in as a viewer."""
    from django.contrib.auth import get_user_model  # deferred: Django is set up by __main__
    from django.test import Client  # deferred: as above

    from accounts.services import user_set_role  # deferred: as above

    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    user_set_role(user=user, role="viewer")
    client = Client()
    client.force_login(user)
    return client


def _cluster_page(client, size: Size) -> list[Figure]:
    from clusters.models import Cluster  # deferred: Django is set up by bench.__main__

    if not Cluster.objects.filter(name=swarm.BIG).exists():
        swarm.run(size)
    big_ms, big_sql, big_bytes = measure(client, f"/clusters/{swarm.BIG}/")
    _, small_sql, _ = measure(client, f"/clusters/{swarm.SMALL}/")
    kib = 1024
    return [
        below("page.cluster", round(big_ms, 1), "ms", 300, f"{size.tasks:,} tasks"),
        below("page.cluster.html", round(big_bytes / kib, 1), "KiB", 1000,
              "target: under 1 MB"),  # fmt: skip
        Figure("page.cluster.sql", big_sql, "statements", f"== {small_sql}",
               big_sql == small_sql, "target: the count at a tenth of the size"),
    ]  # fmt: skip


def run(size: Size) -> list[Figure]:
    from bench.__main__ import reset  # deferred: Django is set up by bench.__main__

    figures = _cluster_page(login(), size)
    reset()
    client = login()
    small = tenth(size)
    add_clusters(small.page_clusters)
    add_failing_checks(small.failing_checks)
    _, fleet_small_sql, _ = measure(client, "/")
    _, findings_small_sql, _ = measure(client, "/readiness/findings/")
    add_clusters(size.page_clusters)
    add_failing_checks(size.failing_checks)
    fleet_ms, fleet_sql, _ = measure(client, "/")
    findings_ms, findings_sql, _ = measure(client, "/readiness/findings/")
    reset()
    return figures + [
        below("page.findings", round(findings_ms, 1), "ms", 300,
              f"{size.failing_checks:,} failing checks, {size.page_clusters:,} clusters"),
        Figure("page.findings.sql", findings_sql, "statements", f"== {findings_small_sql}",
               findings_sql == findings_small_sql, "target: the count at a tenth of the checks"),
        below("page.fleet", round(fleet_ms, 1), "ms", 200,
              f"{size.page_clusters:,} clusters, {EVALUATION_DAYS} days of scores each"),
        Figure("page.fleet.sql", fleet_sql, "statements", f"== {fleet_small_sql}",
               fleet_sql == fleet_small_sql, "target: the count at a tenth of the clusters"),
    ]  # fmt: skip
