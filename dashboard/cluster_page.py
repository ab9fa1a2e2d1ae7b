"""The cluster page: scorecard, findings, nodes and services of one cluster."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from clusters.models import Cluster, RunningTask
from maintenance.selectors import last_reboots
from readiness.charts import history_chart
from readiness.checks import severity_rank
from readiness.models import CheckResult
from readiness.scorecard import scorecard_from_counts
from readiness.selectors import (
    active_waivers,
    check_counts,
    cluster_policy,
    daily_scores,
    evaluation_scores,
    latest_evaluation,
)


@dataclass
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


def _findings(*, evaluation, counts) -> list[CategoryFindings]:
    """Failing checks by category, then rule (critical first): each rule's first few objects
    by name, and how many fail in all (counted in SQL, whatever the number of checks)."""

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
            rules=sorted(entries, key=lambda e: (severity_rank(e.severity), e.rule)),
        )
        for name, entries in sorted(categories.items())
    ]


def _node_rows(*, cluster, now: datetime, all_nodes: bool) -> tuple[list[NodeRow], int]:
    """The cluster's nodes, those not ready or not active first, and how many there are.

    Only the nodes shown have their tasks counted."""

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

    evaluation = latest_evaluation(cluster=cluster)
    card, findings = None, []
    if evaluation is not None:
        counts = check_counts(evaluation=evaluation)
        card = scorecard_from_counts(evaluation_scores(evaluation=evaluation), counts)
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
