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
class RuleFindings:
    """One failing rule on the cluster page: its first few failing checks and how many fail."""

    rule: str
    category: str
    severity: str
    failed: int
    checks: list[dict]

    @property
    def more(self) -> int:
        return self.failed - len(self.checks)


@dataclass
class CategoryFindings:
    name: str
    failed: int
    rules: list[RuleFindings]


@dataclass
class ClusterPage:
    """Everything the cluster page shows, gathered in a fixed number of queries."""

    scorecard: object | None
    evaluated_at: datetime | None
    history_svg: str
    stale: bool
    poll_running: bool
    waivers: list
    findings: list[CategoryFindings]
    nodes: list[NodeRow]
    nodes_total: int
    all_nodes: bool
    services: list
    services_total: int
    all_services: bool
    polls: list

    @property
    def nodes_more(self) -> int:
        return self.nodes_total - len(self.nodes)

    @property
    def services_more(self) -> int:
        return self.services_total - len(self.services)


CHECKS_PER_RULE = 5
NODES_SHOWN = 100
SERVICES_SHOWN = 100


def _check_counts(*, evaluation) -> list[tuple[str, str, str, str, int]]:
    """(rule, category, severity, status, count) of the evaluation's stored checks."""
    from django.db.models import Count

    from readiness.models import CheckResult

    return list(
        CheckResult.objects.filter(evaluation=evaluation)
        .values_list("rule", "category", "severity", "status")
        .annotate(count=Count("id"))
        .order_by("rule", "category", "severity", "status")
    )


def _findings(*, evaluation, counts) -> list[CategoryFindings]:
    """Failing checks by category, then rule (critical first): each rule's first few objects
    by name, and how many fail in all (counted in SQL, whatever the number of checks)."""
    from django.db.models import F, Window
    from django.db.models.functions import RowNumber

    from readiness.models import CheckResult
    from readiness.scorecard import SEVERITY_ORDER

    failed: dict[str, int] = {}
    for rule, _category, _severity, status, count in counts:
        if status == "fail":
            failed[rule] = failed.get(rule, 0) + count
    if not failed:
        return []
    first = (
        CheckResult.objects.filter(evaluation=evaluation, status="fail")
        .annotate(
            position=Window(
                RowNumber(), partition_by=[F("rule")], order_by=[F("object_name"), F("id")]
            )
        )
        .filter(position__lte=CHECKS_PER_RULE)
        .order_by("rule", "position")
    )
    rules: dict[str, RuleFindings] = {}
    for check in first:
        entry = rules.get(check.rule)
        if entry is None:
            entry = rules[check.rule] = RuleFindings(
                rule=check.rule,
                category=check.category,
                severity=check.severity,
                failed=failed.get(check.rule, 0),
                checks=[],
            )
        entry.checks.append(
            {
                "object": {"type": check.object_type, "name": check.object_name},
                "message": check.message,
                "remediation": check.remediation,
            }
        )
    categories: dict[str, list[RuleFindings]] = {}
    for entry in rules.values():
        categories.setdefault(entry.category, []).append(entry)
    return [
        CategoryFindings(
            name=name,
            failed=sum(entry.failed for entry in entries),
            rules=sorted(entries, key=lambda e: (SEVERITY_ORDER.get(e.severity, 9), e.rule)),
        )
        for name, entries in sorted(categories.items())
    ]


def _node_rows(*, cluster, now: datetime, all_nodes: bool) -> tuple[list[NodeRow], int]:
    """The cluster's nodes, those not ready or not active first, and how many there are.

    Only the nodes shown have their tasks counted."""
    from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When, Window

    from maintenance.selectors import last_reboots
    from readiness.selectors import cluster_policy

    from .models import RunningTask

    policy = cluster_policy(cluster=cluster)
    reboots = last_reboots(cluster=cluster, now=now)
    healthy = Q(state="ready", availability="active")
    nodes = (
        cluster.nodes.filter(removed_at__isnull=True)
        .annotate(
            problem=Case(
                When(healthy, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            total=Window(Count("id")),
        )
        .order_by("-problem", "-role", "hostname")
    )
    nodes = list(nodes if all_nodes else nodes[:NODES_SHOWN])
    tasks = {
        row[0]: row[1:]
        for row in RunningTask.objects.filter(
            node__in=[node.pk for node in nodes], service__removed_at__isnull=True
        )
        .values_list("node_id")
        .annotate(count=Count("id"), reserved=Sum("service__memory_reservation"))
        .order_by()
    }
    rows = []
    for node in nodes:
        count, reserved = tasks.get(node.pk, (0, None))
        rows.append(
            NodeRow(
                node=node,
                tier=policy.tier_of(node.cpus, node.memory_bytes),
                running_tasks=count,
                reserved_percent=(
                    round(100 * (reserved or 0) / node.memory_bytes) if node.memory_bytes else None
                ),
                last_reboot=reboots.get(node.swarm_id),
            )
        )
    return rows, (nodes[0].total if nodes else 0)


def _services(*, cluster, all_services: bool) -> tuple[list, int]:
    """The cluster's services, those short of their desired tasks first, and how many."""
    from django.db.models import Case, Count, F, IntegerField, Q, Value, When, Window

    services = (
        cluster.services.filter(removed_at__isnull=True)
        .annotate(
            problem=Case(
                When(Q(running_tasks__lt=F("desired_tasks")), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            total=Window(Count("id")),
        )
        .order_by("-problem", "name")
    )
    shown = list(services if all_services else services[:SERVICES_SHOWN])
    return shown, (shown[0].total if shown else 0)


def cluster_page(
    *,
    cluster: Cluster,
    now: datetime,
    poll_running: bool,
    all_nodes: bool = False,
    all_services: bool = False,
) -> ClusterPage:
    """The scorecard, findings, nodes, services and polls of one cluster.

    Nodes and services are capped (problems first) unless ALL_NODES / ALL_SERVICES."""
    from readiness.charts import history_chart
    from readiness.scorecard import scorecard_from_counts
    from readiness.selectors import active_waivers, daily_scores, latest_evaluation

    evaluation = latest_evaluation(cluster=cluster)
    card, findings = None, []
    if evaluation is not None:
        counts = _check_counts(evaluation=evaluation)
        card = scorecard_from_counts(
            {
                "score": evaluation.score,
                "grade": evaluation.grade,
                "grade_capped": evaluation.grade_capped,
                "categories": evaluation.categories,
                "summary": evaluation.summary,
                "rules": evaluation.rules,
            },
            counts,
        )
        findings = _findings(evaluation=evaluation, counts=counts)
    history = daily_scores(cluster_ids=[cluster.pk], since=now - timedelta(days=30))
    nodes, nodes_total = _node_rows(cluster=cluster, now=now, all_nodes=all_nodes)
    services, services_total = _services(cluster=cluster, all_services=all_services)
    return ClusterPage(
        scorecard=card,
        evaluated_at=evaluation.evaluated_at if evaluation else None,
        history_svg=history_chart(history.get(cluster.pk, []), now=now),
        stale=cluster.is_stale(now),
        poll_running=poll_running,
        waivers=list(active_waivers(cluster=cluster, now=now)),
        findings=findings,
        nodes=nodes,
        nodes_total=nodes_total,
        all_nodes=all_nodes,
        services=services,
        services_total=services_total,
        all_services=all_services,
        polls=list(cluster.poll_runs.order_by("-started_at")[:20]),
    )


@dataclass
class PollProgress:
    """What the poll-status fragment needs."""

    poll_running: bool
