"""Reads of the readiness app: evaluations, checks, waivers, policies."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Subquery

from clusters.snapshot import Snapshot
from readiness.context import Endpoint, RuleContext
from readiness.engine import Report, WaiverSpec, evaluate
from readiness.models import CheckResult, ClusterPolicy, Evaluation, Waiver
from readiness.policy import Policy, policy_from_dict


def cluster_policy(*, cluster) -> Policy:
    """The cluster's policy, or the defaults when none was saved (or CLUSTER is None)."""
    if cluster is None:
        return Policy()
    stored = ClusterPolicy.objects.filter(cluster=cluster).values_list("data", flat=True).first()
    return policy_from_dict(stored or {})


def active_waivers(*, cluster, now: datetime) -> list[Waiver]:
    """Waivers that apply at NOW: not revoked, not expired."""
    return list(Waiver.objects.filter(cluster=cluster, revoked_at__isnull=True, expires_at__gt=now))


def rule_context(*, cluster, now: datetime) -> RuleContext:
    """What the rules may know about CLUSTER besides its snapshot."""
    from maintenance import selectors as maintenance_selectors

    return RuleContext(
        now=now,
        environment=cluster.environment,
        cluster_name=cluster.name,
        endpoint=Endpoint.from_url(cluster.url, has_credentials=cluster.has_credentials),
        operations=maintenance_selectors.operations_facts(cluster=cluster, now=now),
    )


def report_for_cluster(
    *, cluster, snapshot: Snapshot, now: datetime, keep_passes: bool = True
) -> Report:
    """Evaluate SNAPSHOT with the cluster's policy and active waivers, without storing it.

    keep_passes=False only counts the passing checks (see engine.evaluate)."""
    waivers = [
        WaiverSpec(w.id, w.rule, w.selector) for w in active_waivers(cluster=cluster, now=now)
    ]
    return evaluate(
        snapshot,
        cluster_policy(cluster=cluster),
        rule_context(cluster=cluster, now=now),
        waivers=waivers,
        cluster=cluster.name,
        keep_passes=keep_passes,
    )


def latest_evaluation(*, cluster) -> Evaluation | None:
    return Evaluation.objects.filter(cluster=cluster).first()


def evaluations_for_clusters(*, clusters) -> dict[int, Evaluation]:
    """The latest evaluation of each cluster, by cluster id (two queries, whatever the count)."""
    from clusters.models import Cluster

    latest = Evaluation.objects.filter(cluster=OuterRef("pk")).order_by("-evaluated_at", "-id")
    ids = (
        Cluster.objects.filter(pk__in=[c.pk for c in clusters])
        .annotate(latest_id=Subquery(latest.values("id")[:1]))
        .values_list("latest_id", flat=True)
    )
    evaluations = Evaluation.objects.filter(id__in=[i for i in ids if i is not None])
    return {evaluation.cluster_id: evaluation for evaluation in evaluations}


def score_history(*, cluster, since: datetime) -> list[dict]:
    """Score, grade and category scores of the cluster's evaluations since SINCE, oldest first."""
    return list(
        Evaluation.objects.filter(cluster=cluster, evaluated_at__gte=since)
        .order_by("evaluated_at", "id")
        .values("evaluated_at", "score", "grade", "grade_capped", "categories")
    )


def failing_checks(*, evaluation) -> list[CheckResult]:
    """The evaluation's failures, critical first."""
    order = {"critical": 0, "warning": 1, "info": 2}
    checks = list(evaluation.checks.filter(status="fail"))
    return sorted(checks, key=lambda c: (order.get(c.severity, 3), c.rule, c.object_name))


def latest_failing_checks(*, clusters) -> list[CheckResult]:
    """Failures of the latest evaluation of every cluster given (for the findings page)."""
    latest = evaluations_for_clusters(clusters=clusters)
    return list(
        CheckResult.objects.filter(evaluation__in=latest.values(), status="fail")
        .select_related("evaluation__cluster")
        .order_by("evaluation__cluster__name", "severity", "rule", "object_name")
    )


def waiver_trail(*, waiver) -> list:
    return list(waiver.events.select_related("actor"))


def daily_scores(*, cluster_ids, since: datetime) -> dict[int, list[tuple[datetime, int]]]:
    """Each cluster's lowest score per UTC day since SINCE (one query for any number)."""
    from datetime import UTC, time

    from django.db.models import Min
    from django.db.models.functions import TruncDate

    rows = (
        Evaluation.objects.filter(cluster_id__in=cluster_ids, evaluated_at__gte=since)
        .annotate(day=TruncDate("evaluated_at", tzinfo=UTC))
        .values_list("cluster_id", "day")
        .annotate(low=Min("score"))
        .order_by("cluster_id", "day")
    )
    result: dict[int, list[tuple[datetime, int]]] = {}
    for cluster_id, day, low in rows:
        result.setdefault(cluster_id, []).append((datetime.combine(day, time(), UTC), low))
    return result


def report_dict(*, evaluation) -> dict:
    """A stored evaluation in the report's shape: its non-passing checks, rules and scores."""
    checks = [
        {
            "rule": check.rule,
            "category": check.category,
            "severity": check.severity,
            "status": check.status,
            "object": {"type": check.object_type, "id": check.object_id, "name": check.object_name},
            "message": check.message,
            "remediation": check.remediation,
        }
        for check in evaluation.checks.order_by("id")
    ]
    return {
        "score": evaluation.score,
        "grade": evaluation.grade,
        "grade_capped": evaluation.grade_capped,
        "categories": evaluation.categories,
        "summary": evaluation.summary,
        "rules": evaluation.rules,
        "checks": checks,
    }
