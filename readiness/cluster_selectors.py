"""Readiness reads for the cluster page: findings by category, fix first, what changed, waiver
marks. Each is one query (or none), whatever the number of checks or evaluations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from readiness.changes import net_change_count
from readiness.checks import CRITICAL, FAIL, INFO, WARNING, Check, Obj, severity_rank
from readiness.fixfirst import Fix, fix_first_from
from readiness.models import CheckResult, Evaluation, Waiver
from readiness.scoring import RuleScore

CHECKS_PER_RULE = 5
CHANGES_SHOWN = 8
QUERY_MAX = 100  # characters of a filter kept
FIX_FIRST_CACHED = 24 * 3600  # seconds


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
    """A category of the cluster page: its score, failing counts and failing rules."""

    name: str
    score: int | None
    rules_scored: int
    critical: int = 0
    warning: int = 0
    info: int = 0
    failing_rules: list[RuleFindings] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.critical + self.warning + self.info

    @property
    def anchor(self) -> str:
        return f"cat-{self.name}"


def category_findings(
    *, evaluation, counts, categories: dict, query: str = ""
) -> list[CategoryFindings]:
    """Every category of the evaluation (CATEGORIES: its stored name -> score and rules), with
    its failing checks counted by severity (from COUNTS, see selectors.check_counts) and its
    failing rules (critical first), each with its first few objects by name; with QUERY, only
    the checks whose rule or object name contains it (counts stay the category's).

    One query (none when nothing fails)."""

    result = {
        name: CategoryFindings(name=name, score=v.get("score"), rules_scored=v.get("rules", 0))
        for name, v in categories.items()
    }
    for _rule, category, severity, status, count in counts:
        if status != FAIL:
            continue
        entry = result.setdefault(category, CategoryFindings(category, None, 0))
        if severity in (CRITICAL, WARNING, INFO):
            setattr(entry, severity, getattr(entry, severity) + count)
    failing: dict[str, int] = {}
    for rule, _category, _severity, status, count in counts:
        if status == FAIL:
            failing[rule] = failing.get(rule, 0) + count
    if any(entry.failed for entry in result.values()):
        for group in _failing_rules(evaluation=evaluation, query=query, failing=failing):
            result[group.category].failing_rules.append(group)
    for entry in result.values():
        entry.failing_rules.sort(key=lambda g: (severity_rank(g.severity), g.rule))
    return sorted(result.values(), key=lambda c: (c.failed == 0, c.name))


FINDING_COLUMNS = (
    "rule", "category", "severity", "object_type", "object_name", "message", "remediation", "id",
)  # fmt: skip


def _failing_rules(*, evaluation, query: str, failing: dict[str, int]) -> list[RuleFindings]:
    """Failing checks grouped by rule: the first CHECKS_PER_RULE by object name, and how many
    match. One statement: the matching checks counted by rule (without QUERY, the counts of
    FAILING, each rule's failing checks, are those), then each rule's first ones by a LATERAL
    ... ORDER BY object name LIMIT on the (evaluation, status, rule) index (a top-N per rule:
    no sort of every failing check with its text, 85,000 in a 100,000-task swarm)."""

    checks = CheckResult.objects.filter(evaluation=evaluation, status=FAIL)
    query = query.strip()[:QUERY_MAX]
    if query:
        checks = checks.filter(Q(rule__icontains=query) | Q(object_name__icontains=query))
    if connection.vendor != "postgresql":
        found = _numbered(checks)
    else:
        found = _first_per_rule(checks, matched=None if query else failing)
    rules: dict[str, RuleFindings] = {}
    for matched, rule, category, severity, object_type, name, message, remediation, _ in found:
        entry = rules.get(rule)
        if entry is None:
            entry = rules[rule] = RuleFindings(
                rule=rule, category=category, severity=severity, failed=matched, checks=[]
            )
        entry.checks.append(
            {
                "object": {"type": object_type, "name": name},
                "message": message,
                "remediation": remediation,
            }
        )
    return list(rules.values())


def _first_per_rule(checks, *, matched: dict[str, int] | None) -> list[tuple]:
    """(matched, *FINDING_COLUMNS) of each rule's first CHECKS_PER_RULE CHECKS by object name:
    the PostgreSQL statement (LATERAL). MATCHED: rule -> how many CHECKS, when known (then not
    counted again: 85,000 index entries)."""
    if matched is None:
        narrow, narrow_params = checks.order_by().values("rule").query.sql_with_params()
        counted = f"(SELECT rule, COUNT(*) AS matched FROM ({narrow}) AS f GROUP BY rule)"  # noqa: S608
    else:
        counted = "(SELECT * FROM unnest(%s::text[], %s::bigint[]) AS f(rule, matched))"
        rules = [rule for rule, count in matched.items() if count]
        narrow_params = (rules, [matched[rule] for rule in rules])
    wide, wide_params = checks.order_by().values(*FINDING_COLUMNS).query.sql_with_params()
    columns = ", ".join(f"c.{name}" for name in FINDING_COLUMNS)
    # Both subqueries are the ORM's own SQL for CHECKS (nothing from the request but
    # parameters); PostgreSQL folds them into the outer statement.
    sql = (
        f"SELECT m.matched, {columns} FROM {counted} AS m "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT * FROM ({wide}) AS w WHERE w.rule = m.rule "
        f"ORDER BY w.object_name, w.id LIMIT {CHECKS_PER_RULE:d}) AS c "
        "ORDER BY c.rule, c.object_name, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*narrow_params, *wide_params])
        return cursor.fetchall()


def _numbered(checks) -> list[tuple]:
    """The same rows from a window numbering every check (SQLite has no LATERAL)."""
    first = (
        checks.annotate(
            position=Window(
                RowNumber(), partition_by=[F("rule")], order_by=[F("object_name"), F("id")]
            ),
            matched=Window(Count("id"), partition_by=[F("rule")]),
        )
        .filter(position__lte=CHECKS_PER_RULE)
        .order_by("rule", "position")
    )
    return list(first.values_list("matched", *FINDING_COLUMNS))


def fix_first(*, evaluation) -> list[Fix]:
    """The stored evaluation's first changes to make (readiness.fixfirst), from its rule
    tallies and its failing, scored checks: one query, none once cached. A stored evaluation
    never changes, so its list is kept in the cache (a big swarm's takes some 100 ms to make);
    the key holds the evaluation's time too, so a reused id cannot find another's list."""

    key = f"fix-first:{evaluation.pk}:{evaluation.evaluated_at.timestamp()}"
    fixes = cache.get(key)
    if fixes is None:
        fixes = _fix_first(evaluation)
        cache.set(key, fixes, timeout=FIX_FIRST_CACHED)
    return fixes


def _fix_first(evaluation) -> list[Fix]:
    rules = [
        RuleScore(r["rule"], r["category"], r["severity"], r["weight"], r["passed"], r["failed"])
        for r in evaluation.rules
    ]
    rows = (
        CheckResult.objects.filter(evaluation=evaluation, status=FAIL)
        .exclude(severity=INFO)
        .values_list(
            "rule", "category", "severity", "object_type", "object_id", "object_name", "remediation"
        )
        .order_by()
    )
    failing = [
        Check(rule, category, severity, FAIL, Obj(kind, object_id, name), "", remediation)
        for rule, category, severity, kind, object_id, name, remediation in rows
    ]
    return fix_first_from(rules, failing)


@dataclass
class Changes:
    """New and resolved failures over a span: how many, and the first CHANGES_SHOWN of each by
    (rule, object type, object name)."""

    new_count: int
    resolved_count: int
    new_shown: list[tuple[str, str, str]]
    resolved_shown: list[tuple[str, str, str]]

    @property
    def any(self) -> bool:
        return bool(self.new_count or self.resolved_count)

    @property
    def new_more(self) -> int:
        return max(0, self.new_count - CHANGES_SHOWN)

    @property
    def resolved_more(self) -> int:
        return max(0, self.resolved_count - CHANGES_SHOWN)

    @classmethod
    def of(cls, new, resolved) -> Changes:
        """The Changes of the lists of keys NEW and RESOLVED."""
        new, resolved = sorted(map(tuple, new)), sorted(map(tuple, resolved))
        return cls(len(new), len(resolved), new[:CHANGES_SHOWN], resolved[:CHANGES_SHOWN])


@dataclass
class WhatChanged:
    last_poll: Changes
    week: Changes
    first_evaluation: bool  # the latest evaluation is the cluster's first: everything is new


def what_changed(*, evaluation, since: datetime) -> WhatChanged:
    """New and resolved failures of the latest EVALUATION (since the poll before it) and since
    SINCE: a failure new then resolved within the span (or the reverse) is neither. A waived
    failure counts as resolved. Two queries, whatever the number of changes: the evaluation's
    own lists, counted (on PostgreSQL: in the database, so that a first poll's 85,000 new
    failures are not read), and readiness.changes.net_change_count over the FailureChange rows
    since SINCE (kept whatever the thinning of old evaluations)."""

    last, first = _last_poll(evaluation)
    week = net_change_count(cluster_id=evaluation.cluster_id, since=since, shown=CHANGES_SHOWN)
    return WhatChanged(
        last_poll=last,
        week=Changes(week.new, week.resolved, week.new_first, week.resolved_first),
        first_evaluation=first,
    )


# PostgreSQL: how many keys a stored list holds and its first CHANGES_SHOWN in Python's order
# (code points), without reading the list out
_LIST_HEAD = (
    "jsonb_array_length(e.{name}), (SELECT COALESCE(jsonb_agg(k.v), '[]') FROM "
    '(SELECT v FROM jsonb_array_elements(e.{name}) AS v ORDER BY (v->>0) COLLATE "C", '
    '(v->>1) COLLATE "C", (v->>2) COLLATE "C" LIMIT {shown:d}) AS k)'
)


def _last_poll(evaluation) -> tuple[Changes, bool]:
    """EVALUATION's new and resolved failures, and whether it is its cluster's first: one
    query."""
    if connection.vendor != "postgresql":
        earlier = Evaluation.objects.filter(
            cluster_id=OuterRef("cluster_id"), evaluated_at__lt=OuterRef("evaluated_at")
        )
        new, resolved, earlier = (
            Evaluation.objects.filter(pk=evaluation.pk)
            .annotate(earlier=Exists(earlier))
            .values_list("new_failures", "resolved_failures", "earlier")
            .get()
        )
        return Changes.of(new, resolved), not earlier
    lists = ", ".join(
        _LIST_HEAD.format(name=name, shown=CHANGES_SHOWN)
        for name in ("new_failures", "resolved_failures")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {lists}, EXISTS (SELECT 1 FROM readiness_evaluation p "  # noqa: S608
            "WHERE p.cluster_id = e.cluster_id AND p.evaluated_at < e.evaluated_at) "
            "FROM readiness_evaluation e WHERE e.id = %s",
            [evaluation.pk],
        )
        new_count, new, resolved_count, resolved, earlier = cursor.fetchone()
    new, resolved = (json.loads(v) if isinstance(v, str) else v for v in (new, resolved))
    changes = Changes(
        new_count, resolved_count, [tuple(k) for k in new], [tuple(k) for k in resolved]
    )
    return changes, not earlier


def waiver_marks(*, cluster, since: datetime, now: datetime) -> list[tuple[datetime, str, str]]:
    """(when, "waiver created" | "waiver ended", rule) of CLUSTER's waivers created, revoked or
    expired between SINCE and NOW, oldest first: one query."""

    waivers = Waiver.objects.filter(
        Q(created_at__range=(since, now))
        | Q(revoked_at__range=(since, now))
        | Q(expires_at__range=(since, now)),
        cluster=cluster,
    ).values_list("rule", "created_at", "revoked_at", "expires_at")
    marks = []
    for rule, created, revoked, expires in waivers:
        if since <= created <= now:
            marks.append((created, "waiver created", rule))
        ended = min(revoked, expires) if revoked else expires
        if since <= ended <= now:
            marks.append((ended, "waiver ended", rule))
    return sorted(marks)
