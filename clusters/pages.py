"""Read-only assembly of the dashboard's cluster pages from each app's selectors.

Views call one function here; it gathers, in a fixed number of queries whatever the number of
clusters, what the clusters, readiness and maintenance apps say about each cluster.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from readiness.charts import sparkline

from .models import Cluster

GRADES = ("A", "B", "C", "D", "F")
STALE_AFTER_INTERVALS = 3


@dataclass
class NextWindow:
    """The next maintenance occurrence of a cluster, with the window's own zone."""

    name: str
    start: datetime
    end: datetime
    time_zone: str


@dataclass
class FleetRow:
    """One cluster on the fleet page."""

    cluster: Cluster
    score: int | None = None
    grade: str | None = None
    grade_capped: bool = False
    critical: int = 0
    history: list[tuple[datetime, int]] = field(default_factory=list)
    sparkline: str = ""
    last_poll_at: datetime | None = None
    last_poll_ok: bool | None = None
    last_error: str = ""
    last_good_at: datetime | None = None
    stale: bool = False
    next_window: NextWindow | None = None
    overdue_backups: int = 0
    overdue_steps: int = 0


@dataclass
class FleetFilter:
    environment: str = ""
    grade: str = ""

    @classmethod
    def from_query(cls, query) -> "FleetFilter":
        environment = query.get("environment", "")
        grade = query.get("grade", "")
        return cls(
            environment=environment if environment in Cluster.Environment.values else "",
            grade=grade if grade in GRADES or grade == "none" else "",
        )


def is_stale(*, last_good_at: datetime | None, interval_seconds: int, now: datetime) -> bool:
    """Stale: no good poll within three poll intervals (or never one)."""
    if last_good_at is None:
        return True
    return now - last_good_at > timedelta(seconds=STALE_AFTER_INTERVALS * interval_seconds)


def fleet_rows(*, now: datetime, filters: FleetFilter) -> list[FleetRow]:
    """Every cluster (filtered) with grade, score history, poll state and maintenance state."""
    from maintenance.selectors import fleet_maintenance
    from readiness.selectors import daily_scores, evaluations_for_clusters

    clusters = Cluster.objects.order_by("name")
    if filters.environment:
        clusters = clusters.filter(environment=filters.environment)
    clusters = list(clusters)
    ids = [cluster.pk for cluster in clusters]
    evaluations = evaluations_for_clusters(clusters=clusters)
    histories = daily_scores(cluster_ids=ids, since=now - timedelta(days=30))
    maintenance = fleet_maintenance(cluster_ids=ids, now=now)
    rows = []
    for cluster in clusters:
        evaluation = evaluations.get(cluster.pk)
        upkeep = maintenance[cluster.pk]
        occurrence = upkeep["next"]
        row = FleetRow(
            cluster=cluster,
            history=histories.get(cluster.pk, []),
            last_poll_at=cluster.last_poll_at,
            last_poll_ok=cluster.last_poll_ok,
            last_error=cluster.last_poll_error,
            last_good_at=cluster.last_success_at,
            stale=cluster.is_stale(now),
            overdue_backups=upkeep["overdue_backups"],
            overdue_steps=upkeep["overdue_steps"],
        )
        if evaluation is not None:
            row.score, row.grade = evaluation.score, evaluation.grade
            row.grade_capped = evaluation.grade_capped
            row.critical = evaluation.summary.get("critical", 0)
        if occurrence is not None:
            row.next_window = NextWindow(
                name=occurrence.window.name,
                start=occurrence.start,
                end=occurrence.end,
                time_zone=occurrence.window.time_zone,
            )
        row.sparkline = sparkline(row.history, now=now)
        rows.append(row)
    if filters.grade:
        wanted = None if filters.grade == "none" else filters.grade
        rows = [row for row in rows if row.grade == wanted]
    return rows


@dataclass
class NodeRow:
    node: object
    tier: str
    running_tasks: int
    reserved_percent: int | None
    last_reboot: datetime | None


@dataclass
class ClusterPage:
    """Everything the cluster page shows, gathered in a fixed number of queries."""

    scorecard: object | None
    evaluated_at: datetime | None
    history_svg: str
    stale: bool
    poll_running: bool
    waivers: list
    nodes: list[NodeRow]
    services: list
    services_more: int
    polls: list


SERVICES_SHOWN = 200


def cluster_page(*, cluster: Cluster, now: datetime, poll_running: bool) -> ClusterPage:
    """The scorecard, findings, nodes, services and polls of one cluster."""
    from django.db.models import Count, Q, Sum

    from maintenance.selectors import last_reboots
    from readiness.charts import history_chart
    from readiness.scorecard import scorecard_from_report
    from readiness.selectors import (
        active_waivers,
        cluster_policy,
        daily_scores,
        latest_evaluation,
        report_dict,
    )

    evaluation = latest_evaluation(cluster=cluster)
    card = scorecard_from_report(report_dict(evaluation=evaluation)) if evaluation else None
    history = daily_scores(cluster_ids=[cluster.pk], since=now - timedelta(days=30))
    policy = cluster_policy(cluster=cluster)
    reboots = last_reboots(cluster=cluster, now=now)
    alive = Q(tasks__service__removed_at__isnull=True)
    nodes = (
        cluster.nodes.filter(removed_at__isnull=True)
        .annotate(
            task_count=Count("tasks", filter=alive),
            reserved_memory=Sum("tasks__service__memory_reservation", filter=alive),
        )
        .order_by("-role", "hostname")
    )
    node_rows = [
        NodeRow(
            node=node,
            tier=policy.tier_of(node.cpus, node.memory_bytes),
            running_tasks=node.task_count,
            reserved_percent=(
                round(100 * (node.reserved_memory or 0) / node.memory_bytes)
                if node.memory_bytes
                else None
            ),
            last_reboot=reboots.get(node.swarm_id),
        )
        for node in nodes
    ]
    services = cluster.services.filter(removed_at__isnull=True).order_by("name")
    shown = list(services[:SERVICES_SHOWN])
    more = max(0, services.count() - len(shown)) if len(shown) == SERVICES_SHOWN else 0
    return ClusterPage(
        scorecard=card,
        evaluated_at=evaluation.evaluated_at if evaluation else None,
        history_svg=history_chart(history.get(cluster.pk, []), now=now),
        stale=cluster.is_stale(now),
        poll_running=poll_running,
        waivers=list(active_waivers(cluster=cluster, now=now)),
        nodes=node_rows,
        services=shown,
        services_more=more,
        polls=list(cluster.poll_runs.order_by("-started_at")[:20]),
    )


@dataclass
class PollProgress:
    """What the poll-status fragment needs."""

    poll_running: bool
