"""Reads of the readiness app: evaluations, checks, waivers, policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

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


# --- The findings page: failing (and waived) checks of every cluster's latest evaluation ---

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
FINDINGS_SHOW = {"open": ("fail",), "waived": ("waived",), "all": ("fail", "waived")}
FINDINGS_QUERY_MAX = 100
FINDINGS_CLUSTERS_NAMED = 12  # clusters named in a rule's counts; the rest are counted


@dataclass(frozen=True)
class FindingsFilter:
    """What the findings page narrows to; empty strings mean "any"."""

    cluster: str = ""
    environment: str = ""
    severity: str = ""
    category: str = ""
    rule: str = ""
    q: str = ""  # part of an object's name, case-insensitive
    show: str = "open"  # open (failing) | waived | all

    @classmethod
    def from_query(cls, query, *, cluster_names) -> tuple[FindingsFilter, list[str]]:
        """The filter a GET query asks for, and a note for each value ignored as invalid."""
        from clusters.models import Cluster
        from readiness import catalogue
        from readiness.checks import SEVERITIES

        allowed = {
            "cluster": set(cluster_names),
            "environment": set(Cluster.Environment.values),
            "severity": set(SEVERITIES),
            "category": set(catalogue.CATEGORIES),
            "rule": set(catalogue.rule_ids()),
            "show": set(FINDINGS_SHOW),
        }
        values, notes = {}, []
        for name, choices in allowed.items():
            value = query.get(name, "").strip()
            if value and value not in choices:
                noun = "choice" if name == "show" else name
                notes.append(f"Ignored {name} “{value[:80]}”: no such {noun}.")
                value = ""
            if value:
                values[name] = value
        q = query.get("q", "").strip()
        if len(q) > FINDINGS_QUERY_MAX:
            notes.append(f"Ignored the object search: at most {FINDINGS_QUERY_MAX} characters.")
            q = ""
        return cls(q=q, **values), notes

    def is_narrowed(self) -> bool:
        return any(
            (self.cluster, self.environment, self.severity, self.category, self.rule, self.q)
        )


@dataclass
class FindingRow:
    """One check on the findings page."""

    id: int
    cluster: str
    rule: str
    severity: str
    status: str
    object_type: str
    object_name: str
    message: str
    remediation: str
    waiver_id: int | None
    cluster_url: str = ""  # set by the view


@dataclass
class ClusterCount:
    cluster: str
    failing: int = 0
    waived: int = 0
    cluster_url: str = ""  # set by the view


@dataclass
class RuleFindings:
    """One rule's matching checks: counts over every cluster, the first rows to show."""

    rule: str
    title: str
    category: str
    severity: str  # the highest severity among its matching checks
    failing: int = 0
    waived: int = 0
    matching: int = 0  # failing and/or waived, as the filter's "show" asks
    clusters: list[ClusterCount] = field(default_factory=list)
    rows: list[FindingRow] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.matching - len(self.rows)

    @property
    def clusters_named(self) -> list[ClusterCount]:
        return self.clusters[:FINDINGS_CLUSTERS_NAMED]

    @property
    def clusters_more(self) -> int:
        return max(0, len(self.clusters) - FINDINGS_CLUSTERS_NAMED)


@dataclass
class Findings:
    groups: list[RuleFindings]
    matching: int  # checks matching the filter, over all groups
    shown: int  # rows loaded (at most per_rule per group and limit in all)
    hidden_waived: int  # waived checks that match but the filter does not show
    clusters_scored: int  # clusters in scope that have an evaluation

    @property
    def more(self) -> int:
        return self.matching - self.shown


def findings(
    *, filters: FindingsFilter, clusters, per_rule: int = 50, limit: int = 250
) -> Findings:
    """Checks of each cluster's latest evaluation matching FILTERS, grouped by rule.

    CLUSTERS are every cluster (with id, name and environment). Counts come from one SQL
    aggregate; one query numbers each rule's checks and keeps the ids of the first PER_RULE,
    LIMIT in all, and one reads those rows. Four queries whatever the number of clusters or
    checks.
    """
    from django.db.models import Case, Count, F, IntegerField, Q, Value, When, Window
    from django.db.models.functions import RowNumber

    from readiness import catalogue

    checks, cluster_of = finding_checks(filters=filters, clusters=clusters)
    shown_statuses = FINDINGS_SHOW[filters.show]

    catalogue_rules = {r.id: r for r in catalogue.all_rules()}
    groups: dict[str, RuleFindings] = {}
    counts = (
        checks.order_by()
        .values_list("rule", "severity", "evaluation_id")
        .annotate(
            failing=Count("id", filter=Q(status="fail")),
            waived=Count("id", filter=Q(status="waived")),
        )
    )
    per_cluster: dict[tuple[str, str], ClusterCount] = {}
    hidden_waived = 0
    for rule, severity, evaluation_id, failing, waived in counts:
        matching = failing * ("fail" in shown_statuses) + waived * ("waived" in shown_statuses)
        if "waived" not in shown_statuses:
            hidden_waived += waived
        if not matching:
            continue
        group = groups.get(rule)
        if group is None:
            known = catalogue_rules.get(rule)
            group = groups[rule] = RuleFindings(
                rule=rule,
                title=known.title if known else "",
                category=known.category if known else rule.split(".", 1)[0],
                severity=severity,
            )
        if SEVERITY_RANK.get(severity, 3) < SEVERITY_RANK.get(group.severity, 3):
            group.severity = severity
        group.failing += failing * ("fail" in shown_statuses)
        group.waived += waived * ("waived" in shown_statuses)
        group.matching += matching
        cluster = cluster_of[evaluation_id]
        count = per_cluster.get((rule, cluster))
        if count is None:
            count = per_cluster[rule, cluster] = ClusterCount(cluster)
            group.clusters.append(count)
        count.failing += failing * ("fail" in shown_statuses)
        count.waived += waived * ("waived" in shown_statuses)
    ordered = sorted(
        groups.values(), key=lambda g: (SEVERITY_RANK.get(g.severity, 3), -g.matching, g.rule)
    )
    for group in ordered:
        group.clusters.sort(key=lambda c: (-(c.failing + c.waived), c.cluster))

    if ordered and limit > 0 and per_rule > 0:
        severity_rank = Case(
            *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_RANK.items()),
            default=Value(3),
            output_field=IntegerField(),
        )
        group_rank = Case(
            *(When(rule=group.rule, then=Value(rank)) for rank, group in enumerate(ordered)),
            default=Value(len(ordered)),
            output_field=IntegerField(),
        )
        # Number each rule's checks on integer keys only (no text sort, no join), keep the
        # first PER_RULE of each and LIMIT in all; then read the wide columns of those only
        # (one statement: the ids are a subquery).
        first_ids = (
            checks.filter(status__in=shown_statuses)
            .annotate(
                position=Window(
                    RowNumber(),
                    partition_by=[group_rank],
                    order_by=[severity_rank.asc(), F("evaluation_id").asc(), F("id").asc()],
                ),
                group_rank=group_rank,
            )
            .filter(position__lte=per_rule)
            .order_by("group_rank", "position")
            .values("id")[:limit]
        )
        rows = [
            FindingRow(id_, cluster_of[evaluation_id], *rest)
            for id_, evaluation_id, *rest in CheckResult.objects.filter(pk__in=first_ids)
            .order_by()
            .values_list(
                "id", "evaluation_id", "rule", "severity", "status", "object_type",
                "object_name", "message", "remediation", "waiver_id",
            )
        ]  # fmt: skip
        rank = {group.rule: index for index, group in enumerate(ordered)}
        rows.sort(
            key=lambda r: (
                rank[r.rule], SEVERITY_RANK.get(r.severity, 3), r.cluster, r.object_name, r.id
            )
        )  # fmt: skip
        for row in rows:
            groups[row.rule].rows.append(row)
    return Findings(
        groups=ordered,
        matching=sum(g.matching for g in ordered),
        shown=sum(len(g.rows) for g in ordered),
        hidden_waived=hidden_waived,
        clusters_scored=len(cluster_of),
    )


def finding_checks(*, filters: FindingsFilter, clusters):
    """The failing and waived checks of each cluster's latest evaluation narrowed by FILTERS
    (all but "show"), and {evaluation id: cluster name}; one query for the latest ids.

    CLUSTERS are every cluster (with id, name and environment). The findings page groups
    these; the API pages through them."""
    names = {
        c.pk: c.name
        for c in clusters
        if (not filters.cluster or c.name == filters.cluster)
        and (not filters.environment or c.environment == filters.environment)
    }
    latest = latest_evaluation_ids(cluster_ids=list(names))
    cluster_of = {evaluation_id: names[cluster_id] for cluster_id, evaluation_id in latest.items()}
    checks = CheckResult.objects.filter(
        evaluation_id__in=list(cluster_of), status__in=("fail", "waived")
    )
    if filters.severity:
        checks = checks.filter(severity=filters.severity)
    if filters.category:
        checks = checks.filter(category=filters.category)
    if filters.rule:
        checks = checks.filter(rule=filters.rule)
    if filters.q:
        checks = checks.filter(object_name__icontains=filters.q)
    return checks, cluster_of


def latest_evaluation_ids(*, cluster_ids) -> dict[int, int]:
    """The id of each cluster's latest evaluation, by cluster id (one query; unscored left out)."""
    from clusters.models import Cluster

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
    from django.db.models import F, Prefetch, Q
    from django.db.models.functions import Coalesce, Least

    from readiness.models import WaiverEvent

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
