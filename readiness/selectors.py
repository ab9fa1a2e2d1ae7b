"""Reads of the readiness app: evaluations, checks, waivers, policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    JSONField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce, JSONObject, Least

from clusters.models import Cluster, PollSnapshot
from clusters.snapshot import Snapshot
from readiness.changes import NetChanges, net_changes
from readiness.checks import CRITICAL, UNSCORED
from readiness.context import Endpoint, RuleContext
from readiness.engine import Report, WaiverSpec, evaluate
from readiness.facts import OperationsFacts
from readiness.models import (
    CheckResult,
    ClusterPolicy,
    DailyScore,
    Evaluation,
    RuleCount,
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
    """(rule, category, severity, status, count) of the evaluation's stored checks, in order.

    On PostgreSQL the failing and waived ones come from RuleCount (kept by the database) and
    only the few unscored ones are counted (85,000 failing checks in a 100,000-task swarm):
    one statement either way."""

    columns = ("rule", "category", "severity", "status")
    checks = CheckResult.objects.filter(evaluation=evaluation)
    if connection.vendor == "postgresql":
        counted = RuleCount.objects.filter(evaluation=evaluation).values_list(*columns, "checks")
        checks = checks.filter(status__in=UNSCORED)
        rows = counted.union(checks.values_list(*columns).annotate(n=Count("id")), all=True)
        return sorted(rows)
    return list(checks.values_list(*columns).annotate(count=Count("id")).order_by(*columns))


# "A cluster's latest evaluation": the one most recently evaluated, the higher id on a tie.
# Every reader of it goes through latest_evaluation or latest_per_cluster.
LATEST_FIRST = ("-evaluated_at", "-id")


def latest_evaluation(
    *, cluster, settled: bool = False, with_changes: bool = True
) -> Evaluation | None:
    """CLUSTER's latest evaluation (SETTLED: the latest whose snapshot knew every node's state;
    not WITH_CHANGES: its new and resolved failure lists left unread, 85,000 keys after a big
    swarm's first poll)."""
    rows = Evaluation.objects.filter(cluster=cluster)
    if not with_changes:
        rows = rows.defer("new_failures", "resolved_failures")
    return (rows.filter(nodes_unknown=0) if settled else rows).order_by(*LATEST_FIRST).first()


def latest_per_cluster(
    *fields: str, offset: int = 0, settled: bool = False, output_field=None, **expressions
) -> Subquery:
    """FIELDS (or one named expression) of each cluster's latest evaluation (OFFSET 1: the one
    before it; SETTLED: of those that knew every node's state), as a subquery correlated to an
    outer Cluster query's pk; None where there is none."""
    recent = Evaluation.objects.filter(cluster=OuterRef("pk")).order_by(*LATEST_FIRST)
    if settled:
        recent = recent.filter(nodes_unknown=0)
    return Subquery(
        recent.values(*fields, **expressions)[offset : offset + 1], output_field=output_field
    )


def with_latest_score(clusters):
    """CLUSTERS (a Cluster queryset) annotated with `latest`: the score, grade, capped flag and
    critical count of each one's latest evaluation (None when never scored), read with the
    clusters by one correlated subquery, not the stored explanation of every evaluation."""
    score = JSONObject(
        score="score", grade="grade", capped="grade_capped", critical=F("summary__critical")
    )
    return clusters.annotate(latest=latest_per_cluster(data=score, output_field=JSONField()))


def snapshot_unscored(*, cluster) -> bool:
    """True when CLUSTER's latest stored snapshot has no evaluation (one query)."""
    latest = PollSnapshot.objects.filter(cluster=cluster).order_by("-taken_at")[:1]
    scored = Evaluation.objects.filter(cluster=cluster, snapshot_at__gte=OuterRef("taken_at"))
    return (
        PollSnapshot.objects.filter(pk__in=Subquery(latest.values("pk")))
        .exclude(Exists(scored))
        .exists()
    )


def evaluations_for_clusters(*, clusters) -> dict[int, Evaluation]:
    """The latest evaluation of each cluster, by cluster id (two queries, whatever the count)."""
    ids = latest_evaluation_ids(cluster_ids=[c.pk for c in clusters])
    evaluations = Evaluation.objects.filter(id__in=ids.values())
    return {evaluation.cluster_id: evaluation for evaluation in evaluations}


def score_history(*, cluster, since: datetime) -> list[dict]:
    """Score, grade and category scores of the cluster's evaluations since SINCE, oldest first."""
    return list(
        Evaluation.objects.filter(cluster=cluster, evaluated_at__gte=since)
        .order_by("evaluated_at", "id")
        .values("evaluated_at", "score", "grade", "grade_capped", "categories")
    )


def daily_scores(
    *, since: datetime, cluster_ids=None, environment: str = ""
) -> dict[int, list[tuple[datetime, int]]]:
    """cluster id -> its lowest score per UTC day from SINCE's day, days in order, for the
    clusters CLUSTER_IDS (if given) of ENVIRONMENT (if given), in one query (daily_lows)."""
    midnights, lows = daily_lows(since=since, cluster_ids=cluster_ids, environment=environment)
    return {
        cluster_id: list(zip(map(midnights.__getitem__, days), scores, strict=True))
        for cluster_id, (days, scores) in lows.items()
    }


def daily_lows(
    *, since: datetime, cluster_ids=None, environment: str = ""
) -> tuple[_Midnights, dict[int, tuple[list[int], list[int]]]]:
    """As daily_scores, each cluster's days as numbers of days after SINCE's day and its lows,
    in day order (two lists), with the mapping of a day's number to its midnight UTC: a fleet's
    month is 60,000 days, which the fleet page draws without making a (time, score) pair of
    each (readiness.charts.Sparklines.draw_days). Read from DailyScore (a row per cluster and
    day, kept by the database as evaluations are stored), not from the evaluations: a poll a
    minute stores 2,880 of them a day per cluster. They come back as one row of arrays per
    cluster, the ORM's query wrapped in an aggregation it cannot express."""

    first = since.astimezone(UTC).date()
    days = DailyScore.objects.filter(day__gte=first)
    if cluster_ids is not None:
        days = days.filter(cluster_id__in=cluster_ids)
    if environment:
        days = days.filter(cluster__environment=environment)
    per_day = days.values_list("cluster_id", "day", "low").order_by("cluster_id", "day")
    sql, params = per_day.query.sql_with_params()
    # The ORM's own SQL and parameters, wrapped; nothing from the request. Days come back as
    # numbers from SINCE's date (an array of dates costs more to read than the query). The
    # arrays take the rows in the subquery's order (array_agg(... ORDER BY "day") would sort
    # each cluster's days again: twice the time at 2,000 clusters); both are filled from the
    # same rows, so days and lows stay paired whatever the order.
    arrays = (
        'SELECT "cluster_id", array_agg("day" - %s::date), array_agg("low") '  # noqa: S608
        f'FROM ({sql}) AS "per_day" GROUP BY "cluster_id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(arrays, [first, *params])
        rows = cursor.fetchall()
    return _Midnights(first), {cluster_id: (days, lows) for cluster_id, days, lows in rows}


class _Midnights(dict):
    """Number of days after FIRST -> that day's midnight UTC, each made once."""

    def __init__(self, first):
        super().__init__()
        self.first = first

    def __missing__(self, days: int) -> datetime:

        midnight = self[days] = datetime.combine(self.first + timedelta(days=days), time(), UTC)
        return midnight


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
    rows = (
        Cluster.objects.filter(pk__in=cluster_ids)
        .annotate(latest_id=latest_per_cluster("id"))
        .values_list("pk", "latest_id")
    )
    return {cluster_id: latest_id for cluster_id, latest_id in rows if latest_id is not None}


# --- The weekly digest ---


@dataclass(frozen=True)
class Finding:
    rule: str
    object_type: str
    object_name: str
    message: str


@dataclass(frozen=True)
class WeekChange:
    """A cluster's readiness now and a week ago (None: not scored then) with the critical
    findings that appeared and those that were resolved in between."""

    score: int
    grade: str
    previous_score: int | None
    previous_grade: str | None
    new_critical: list[Finding]
    resolved_critical: list[Finding]

    @property
    def delta(self) -> int | None:
        return None if self.previous_score is None else self.score - self.previous_score


def _evaluation_ids_as_of(*, cluster_ids, at: datetime) -> dict[int, int]:
    """The id of each cluster's latest evaluation at or before AT, by cluster id (one query)."""
    latest = Evaluation.objects.filter(cluster=OuterRef("pk"), evaluated_at__lte=at).order_by(
        "-evaluated_at", "-id"
    )
    rows = (
        Cluster.objects.filter(pk__in=cluster_ids)
        .annotate(latest_id=Subquery(latest.values("id")[:1]))
        .values_list("pk", "latest_id")
    )
    return {cluster_id: latest_id for cluster_id, latest_id in rows if latest_id is not None}


def week_changes(*, cluster_ids, now: datetime, since: datetime) -> dict[int, WeekChange]:
    """cluster id -> its WeekChange between SINCE and NOW (clusters never scored left out), in
    four queries however many clusters. The critical findings are summed from the
    FailureChange rows since SINCE (readiness.changes): exact whatever the thinning."""
    current = _evaluation_ids_as_of(cluster_ids=cluster_ids, at=now)
    before = _evaluation_ids_as_of(cluster_ids=list(current), at=since)
    evaluations = Evaluation.objects.in_bulk([*current.values(), *before.values()])
    changes = net_changes(cluster_ids=list(current), since=since, severity=CRITICAL)
    result = {}
    for cluster_id, evaluation_id in current.items():
        then = evaluations.get(before.get(cluster_id))
        net = changes.get(cluster_id, NetChanges())
        result[cluster_id] = WeekChange(
            score=evaluations[evaluation_id].score,
            grade=evaluations[evaluation_id].grade,
            previous_score=then.score if then is not None else None,
            previous_grade=then.grade if then is not None else None,
            new_critical=[Finding(*key, message) for key, message in sorted(net.new.items())],
            resolved_critical=[Finding(*key, "") for key in sorted(net.resolved)],
        )
    return result


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


def waivers_page(
    *, now: datetime, include_inactive: bool, inactive_limit: int = 100, clusters=None
) -> WaiverList:
    """Every active waiver (soonest expiry first) and, when asked, the most recent expired or
    revoked ones; each with cluster, people and trail. Two queries, five with the ended ones,
    whatever the count. CLUSTERS (a queryset: the ones the viewer may see) narrows them."""

    waivers = (
        Waiver.objects.all() if clusters is None else Waiver.objects.filter(cluster__in=clusters)
    )
    base = waivers.select_related("cluster", "owner", "created_by", "revoked_by").prefetch_related(
        Prefetch("events", queryset=WaiverEvent.objects.select_related("actor"))
    )
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
        ended = waivers.exclude(active_q)
        inactive_count = ended.count()
        ended_at = Coalesce(Least(F("revoked_at"), F("expires_at")), F("expires_at"))
        inactive = [
            row(w) for w in base.exclude(active_q).order_by(ended_at.desc(), "-id")[:inactive_limit]
        ]
    return WaiverList(active=active, inactive=inactive, inactive_count=inactive_count)
