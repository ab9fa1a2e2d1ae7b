"""Reads that span apps, for the dashboard's pages and commands."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from clusters import selectors as cluster_selectors
from clusters.connection import display_url
from clusters.models import Cluster
from maintenance import selectors as maintenance_selectors
from readiness import selectors as readiness_selectors
from readiness.report import Report
from readiness.selectors import evaluations_for_clusters
from watchkeeper.timefmt import iso_utc


def cluster_report(*, cluster: Cluster, now) -> Report | None:
    """The readiness report of CLUSTER's latest snapshot with its maintenance facts as of NOW
    (the `readiness report` command's and the API's); None before a good poll."""
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is None:
        return None
    return readiness_selectors.report_for_cluster(
        cluster=cluster,
        snapshot=snapshot,
        now=now,
        operations=maintenance_selectors.operations_facts(cluster=cluster, now=now),
    )


def cluster_summaries(*, clusters=None) -> list[dict[str, Any]]:
    """One JSON-able entry per cluster (of the CLUSTERS queryset: those a user may see; every
    cluster when None) for `cluster list` and the API (no credentials, ever)."""
    clusters = Cluster.objects.all() if clusters is None else clusters
    clusters = (
        clusters.select_related("team")
        .annotate(
            node_count=Count("nodes", filter=Q(nodes__removed_at__isnull=True), distinct=True),
            service_count=Count(
                "services", filter=Q(services__removed_at__isnull=True), distinct=True
            ),
        )
        .order_by("name")
    )

    clusters = list(clusters)
    evaluations = evaluations_for_clusters(clusters=clusters)
    out = []
    for cluster in clusters:
        evaluation = evaluations.get(cluster.pk)
        score, grade = (evaluation.score, evaluation.grade) if evaluation else (None, None)
        out.append(
            {
                "name": cluster.name,
                "team": cluster.team.name,
                "environment": cluster.environment,
                "url": display_url(cluster.url),
                "nodes": cluster.node_count,
                "services": cluster.service_count,
                "last_poll": {
                    "at": iso_utc(cluster.last_poll_at),
                    "ok": cluster.last_poll_ok,
                    "error": cluster.last_poll_error or None,
                },
                "score": score,
                "grade": grade,
            }
        )
    return out
