"""Reads of the readiness app: evaluations, checks, waivers, policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Count,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce, Least

from clusters.models import Cluster
from clusters.snapshot import Snapshot
from readiness.checks import severity_rank
from readiness.context import Endpoint, RuleContext
from readiness.engine import Report, WaiverSpec, evaluate
from readiness.facts import OperationsFacts
from readiness.models import (
    CheckResult,
    ClusterPolicy,
    DailyScore,
    Evaluation,
    Waiver,
    WaiverEvent,
)
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


def rule_context(*, cluster, now: datetime, operations: OperationsFacts) -> RuleContext:
    """What the rules may know about CLUSTER besides its snapshot; OPERATIONS are its
    maintenance facts, which the caller (the dashboard) gathers from the maintenance app."""
    return RuleContext(
        now=now,
        environment=cluster.environment,
        cluster_name=cluster.name,
        endpoint=Endpoint.from_url(cluster.url, has_credentials=cluster.has_credentials),
        operations=operations,
    )


def report_for_cluster(
    *,
    cluster,
    snapshot: Snapshot,
    now: datetime,
    operations: OperationsFacts,
    keep_passes: bool = True,
) -> Report:
    """Evaluate SNAPSHOT with the cluster's policy, active waivers and maintenance facts
    (OPERATIONS), without storing it.

    keep_passes=False only counts the passing checks (see engine.evaluate)."""
    waivers = [
        WaiverSpec(w.id, w.rule, w.selector) for w in active_waivers(cluster=cluster, now=now)
    ]
    return evaluate(
        snapshot,
        cluster_policy(cluster=cluster),
        rule_context(cluster=cluster, now=now, operations=operations),
        waivers=waivers,
        cluster=cluster.name,
        keep_passes=keep_passes,
    )


def check_counts(*, evaluation) -> list[tuple[str, str, str, str, int]]:
    """(rule, category, severity, status, count) of the evaluation's stored checks."""

    return list(
        CheckResult.objects.filter(evaluation=evaluation)
        .values_list("rule", "category", "severity", "status")
        .annotate(count=Count("id"))
        .order_by("rule", "category", "severity", "status")
    )


def latest_evaluation(*, cluster) -> Evaluation | None:
    return Evaluation.objects.filter(cluster=cluster).first()


def evaluations_for_clusters(*, clusters) -> dict[int, Evaluation]:
    """The latest evaluation of each cluster, by cluster id (two queries, whatever the count)."""

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
    checks = list(evaluation.checks.filter(status="fail"))
    return sorted(checks, key=lambda c: (severity_rank(c.severity), c.rule, c.object_name))


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


def daily_scores(
    *, since: datetime, cluster_ids=None, environment: str = ""
) -> dict[int, list[tuple[datetime, int]]]:
    """cluster id -> its lowest score per UTC day from SINCE's day, days in order, for the
    clusters CLUSTER_IDS (if given) of ENVIRONMENT (if given), in one query. Read from
    DailyScore (a row per cluster and day, kept by the database as evaluations are stored), not
    from the evaluations: a poll a minute stores 2,880 of them a day per cluster. A fleet's
    month is tens of thousands of days: they come back as one row of arrays per cluster, the
    ORM's query wrapped in an aggregation it cannot express."""

    first = since.astimezone(UTC).date()
    days = DailyScore.objects.filter(day__gte=first)
    if cluster_ids is not None:
        days = days.filter(cluster_id__in=cluster_ids)
    if environment:
        days = days.filter(cluster__environment=environment)
    per_day = days.values_list("cluster_id", "day", "low").order_by()
    sql, params = per_day.query.sql_with_params()
    # The ORM's own SQL and parameters, wrapped; nothing from the request. Days come back as
    # numbers from SINCE's date (an array of dates costs more to read than the query).
    arrays = (
        'SELECT "cluster_id", array_agg("day" - %s::date ORDER BY "day"), '  # noqa: S608
        'array_agg("low" ORDER BY "day") '
        f'FROM ({sql}) AS "per_day" GROUP BY "cluster_id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(arrays, [first, *params])
        rows = cursor.fetchall()
    midnights = _Midnights(first)
    return {
        cluster_id: list(zip(map(midnights.__getitem__, days), lows, strict=True))
        for cluster_id, days, lows in rows
    }


class _Midnights(dict):
    """Number of days after FIRST -> that day's midnight UTC, each made once."""

    def __init__(self, first):
        super().__init__()
        self.first = first

    def __missing__(self, days: int) -> datetime:

        midnight = self[days] = datetime.combine(self.first + timedelta(days=days), time(), UTC)
        return midnight


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
    return {**evaluation_scores(evaluation=evaluation), "checks": checks}


def evaluation_scores(*, evaluation) -> dict:
    """An evaluation's stored score, grade, categories, summary and per-rule explanation."""
    return {
        "score": evaluation.score,
        "grade": evaluation.grade,
        "grade_capped": evaluation.grade_capped,
        "categories": evaluation.categories,
        "summary": evaluation.summary,
        "rules": evaluation.rules,
    }


def latest_evaluation_ids(*, cluster_ids) -> dict[int, int]:
    """The id of each cluster's latest evaluation, by cluster id (one query; unscored left out)."""

    if not cluster_ids:
        return {}
    latest = Evaluation.objects.filter(cluster=OuterRef("pk")).order_by("-evaluated_at", "-id")
    rows = (
        Cluster.objects.filter(pk__in=cluster_ids)
        .annotate(latest_id=Subquery(latest.values("id")[:1]))
        .values_list("pk", "latest_id")
    )
    return {cluster_id: latest_id for cluster_id, latest_id in rows if latest_id is not None}


# --- The waivers page ---

EXPIRES_SOON_DAYS = 7


@dataclass
class WaiverRow:
    """A waiver on the waivers page, with its state at NOW and its audit trail."""

    waiver: Waiver
    state: str  # active | revoked | expired
    days_left: int | None  # calendar days (UTC) until the expiry date; active waivers only
    trail: list

    @property
    def expires_soon(self) -> bool:
        return self.days_left is not None and self.days_left < EXPIRES_SOON_DAYS


@dataclass
class WaiverList:
    active: list[WaiverRow]
    inactive: list[WaiverRow]  # most recent first, at most the limit asked for
    inactive_count: int


def waivers_page(*, now: datetime, include_inactive: bool, inactive_limit: int = 100) -> WaiverList:
    """Every active waiver (soonest expiry first) and, when asked, the most recent expired or
    revoked ones; each with cluster, people and trail. Two queries, five with the ended ones,
    whatever the count."""

    base = Waiver.objects.select_related(
        "cluster", "owner", "created_by", "revoked_by"
    ).prefetch_related(Prefetch("events", queryset=WaiverEvent.objects.select_related("actor")))
    active_q = Q(revoked_at__isnull=True, expires_at__gt=now)

    def row(waiver: Waiver) -> WaiverRow:
        if waiver.revoked_at is not None:
            state, days_left = "revoked", None
        elif waiver.expires_at <= now:
            state, days_left = "expired", None
        else:
            days_left = (waiver.expires_at.astimezone(UTC).date() - now.astimezone(UTC).date()).days
            state = "active"
        return WaiverRow(
            waiver=waiver, state=state, days_left=days_left, trail=list(waiver.events.all())
        )

    active = [row(w) for w in base.filter(active_q).order_by("expires_at", "id")]
    inactive, inactive_count = [], 0
    if include_inactive:
        ended = Waiver.objects.exclude(active_q)
        inactive_count = ended.count()
        ended_at = Coalesce(Least(F("revoked_at"), F("expires_at")), F("expires_at"))
        inactive = [
            row(w) for w in base.exclude(active_q).order_by(ended_at.desc(), "-id")[:inactive_limit]
        ]
    return WaiverList(active=active, inactive=inactive, inactive_count=inactive_count)
