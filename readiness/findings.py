"""Reads for the findings page: failing (and waived) checks of every cluster's latest evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from clusters.models import Cluster
from readiness import catalogue, finding_counts
from readiness.checks import SEVERITIES, SEVERITY_ORDER, severity_rank
from readiness.models import CheckResult
from readiness.selectors import latest_evaluation_ids

FINDINGS_SHOW = {"open": ("fail",), "waived": ("waived",), "all": ("fail", "waived")}
FINDINGS_QUERY_MAX = 100
FINDINGS_CLUSTERS_NAMED = 12  # clusters named in a rule's counts; the rest are counted
# Up to this many clusters in scope, the page groups their latest evaluations' counts
# (finding_counts.counted); more read each cluster's current counts (finding_counts.current),
# whose indexes walk every cluster of a rule to find the few in scope.
FINDINGS_FEW_CLUSTERS = 50


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
    cluster_count: int = 0  # clusters with matching checks
    clusters: list[ClusterCount] = field(default_factory=list)  # most first; the named at least
    rows: list[FindingRow] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.matching - len(self.rows)

    @property
    def clusters_named(self) -> list[ClusterCount]:
        return self.clusters[:FINDINGS_CLUSTERS_NAMED]

    @property
    def clusters_more(self) -> int:
        return max(0, self.cluster_count - FINDINGS_CLUSTERS_NAMED)


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

    CLUSTERS are every cluster (with id, name and environment). On PostgreSQL without an
    object-name search, the counts and where each rule's first PER_RULE rows are come from the
    stored counts (readiness.finding_counts: each cluster's current counts, or with few
    clusters in scope their latest evaluations' counts), and the rows (LIMIT in all) from one
    LATERAL statement; otherwise the checks themselves are counted (findings_exact). Three
    queries either way (latest evaluations, counts, rows), whatever the number of clusters or
    checks; four when a rule's checks in one evaluation span two severities or categories.
    """
    if filters.q or connection.vendor != "postgresql":
        return findings_exact(filters=filters, clusters=clusters, per_rule=per_rule, limit=limit)
    names = _cluster_names(filters=filters, clusters=clusters)
    latest = latest_evaluation_ids(cluster_ids=list(names))
    cluster_of = {evaluation_id: names[cluster_id] for cluster_id, evaluation_id in latest.items()}
    shown_statuses = FINDINGS_SHOW[filters.show]
    found = None
    if len(names) > FINDINGS_FEW_CLUSTERS:
        found = finding_counts.current(
            filters=filters, names=names, shown=shown_statuses, per_rule=per_rule,
            named=FINDINGS_CLUSTERS_NAMED,
        )  # fmt: skip
    if found is None:
        counts = finding_counts.counted(
            filters=filters, cluster_of=cluster_of, shown=shown_statuses, per_rule=per_rule,
            named=FINDINGS_CLUSTERS_NAMED,
        )  # fmt: skip
    else:  # the latest evaluations as the counts know them (a poll may have committed since)
        counts, named_of = found
        cluster_of = {**cluster_of, **named_of}
    catalogue_rules = {r.id: r for r in catalogue.all_rules()}
    groups: dict[str, RuleFindings] = {}
    for row in counts.clusters:
        group = groups.get(row.rule)
        if group is None:
            group = groups[row.rule] = _group(row.rule, catalogue_rules, severity="")
            group.failing, group.waived = row.rule_failing, row.rule_waived
            group.matching, group.cluster_count = row.rule_failing + row.rule_waived, row.clusters
        group.clusters.append(ClusterCount(cluster_of[row.evaluation_id], row.failing, row.waived))
    slices: dict[str, list[finding_counts.Slice]] = {}
    for piece in counts.slices:
        slices.setdefault(piece.rule, []).append(piece)
        if not groups[piece.rule].severity:  # the first slice has the highest severity
            groups[piece.rule].severity = piece.severity
    ordered = _ordered(groups)
    wanted, left = [], limit if per_rule > 0 else 0
    for group in ordered:
        take = min(per_rule, left, group.matching)
        left -= take
        for piece in slices[group.rule]:
            if take <= 0:
                break
            wanted.append((piece, min(piece.n, take)))
            take -= piece.n
    rows = [
        FindingRow(id_, cluster_of[evaluation_id], *rest)
        for id_, evaluation_id, *rest in finding_counts.first_rows(
            wanted=wanted, shown=shown_statuses, category=filters.category
        )
    ]
    return _findings(ordered, rows, hidden_waived=counts.hidden_waived, scored=len(latest))


def _group(rule: str, catalogue_rules, *, severity: str) -> RuleFindings:
    known = catalogue_rules.get(rule)
    return RuleFindings(
        rule=rule,
        title=known.title if known else "",
        category=known.category if known else rule.split(".", 1)[0],
        severity=severity,
    )


def _ordered(groups: dict[str, RuleFindings]) -> list[RuleFindings]:
    return sorted(groups.values(), key=lambda g: (severity_rank(g.severity), -g.matching, g.rule))


def _findings(ordered, rows, *, hidden_waived: int, scored: int) -> Findings:
    """The page's result: ROWS sorted for display and put under their groups."""
    rank = {group.rule: index for index, group in enumerate(ordered)}
    groups = {group.rule: group for group in ordered}
    rows.sort(
        key=lambda r: (rank[r.rule], severity_rank(r.severity), r.cluster, r.object_name, r.id)
    )
    for row in rows:
        groups[row.rule].rows.append(row)
    return Findings(
        groups=ordered,
        matching=sum(g.matching for g in ordered),
        shown=sum(len(g.rows) for g in ordered),
        hidden_waived=hidden_waived,
        clusters_scored=scored,
    )


def findings_exact(
    *, filters: FindingsFilter, clusters, per_rule: int = 50, limit: int = 250
) -> Findings:
    """findings() counted from the checks themselves: what an object-name search needs (the
    stored counts do not know names) and SQLite uses. Counts come from one SQL aggregate over
    every matching check; one query numbers each rule's checks and keeps the ids of the first
    PER_RULE, LIMIT in all, and one reads those rows. Slower with many checks: both read and
    sort every matching check."""

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
            group = groups[rule] = _group(rule, catalogue_rules, severity=severity)
        if severity_rank(severity) < severity_rank(group.severity):
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
    ordered = _ordered(groups)
    for group in ordered:
        group.clusters.sort(key=lambda c: (-(c.failing + c.waived), c.cluster))
        group.cluster_count = len(group.clusters)

    rows = []
    if ordered and limit > 0 and per_rule > 0:
        severity_case = Case(
            *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_ORDER.items()),
            default=Value(len(SEVERITY_ORDER)),
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
                    order_by=[severity_case.asc(), F("evaluation_id").asc(), F("id").asc()],
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
            .values_list(*finding_counts.ROW_COLUMNS)
        ]
    return _findings(ordered, rows, hidden_waived=hidden_waived, scored=len(cluster_of))


def _cluster_names(*, filters: FindingsFilter, clusters) -> dict[int, str]:
    """{cluster id: name} of CLUSTERS that the cluster and environment filters keep."""
    return {
        c.pk: c.name
        for c in clusters
        if (not filters.cluster or c.name == filters.cluster)
        and (not filters.environment or c.environment == filters.environment)
    }


def finding_checks(*, filters: FindingsFilter, clusters):
    """The failing and waived checks of each cluster's latest evaluation narrowed by FILTERS
    (all but "show"), and {evaluation id: cluster name}; one query for the latest ids.

    CLUSTERS are every cluster (with id, name and environment). The findings page groups
    these; the API pages through them."""
    names = _cluster_names(filters=filters, clusters=clusters)
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
