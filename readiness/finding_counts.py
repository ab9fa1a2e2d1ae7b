"""The findings page from the stored counts (PostgreSQL): one statement for every count and
for where each rule's first rows are, one LATERAL ... LIMIT statement for those rows. Neither
reads more checks than it shows.

current() reads each cluster's latest counts (readiness.models.CurrentCount): the rules'
totals in one pass over them, each rule's most affected clusters and first slices from the
head of an index (a few rows a rule, however many clusters). counted() reads the counts of the
given evaluations (readiness.models.RuleCount), grouped and sorted: what a few clusters need,
and where a rule's checks in one evaluation span more than one severity or category.

Exact when the filter narrows by stored columns only (cluster, environment, severity, category,
rule, failing/waived); readiness.findings counts the checks themselves for an object-name search
(and on SQLite, where the counts are not kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from readiness.checks import FAIL, SEVERITY_ORDER, WAIVED
from readiness.models import CheckResult, CurrentCount, RuleCount

ROW_COLUMNS = (
    "id", "evaluation_id", "rule", "severity", "status", "object_type", "object_name", "message",
    "remediation", "waiver_id",
)  # fmt: skip


@dataclass(frozen=True)
class ClusterRow:
    """One of a rule's most affected clusters (place 1 = most checks), with the rule's totals."""

    rule: str
    evaluation_id: int
    failing: int
    waived: int
    place: int
    clusters: int  # clusters the rule has matching checks on
    rule_failing: int
    rule_waived: int


@dataclass(frozen=True)
class Slice:
    """Matching checks of one rule and severity in one evaluation (N of them), with BEFORE
    matching checks of the rule ahead of them in the page's order (severity, evaluation, id)."""

    rule: str
    evaluation_id: int
    severity: str
    n: int
    before: int


@dataclass
class Counted:
    clusters: list[ClusterRow]
    slices: list[Slice]  # in order; per rule, those with before < per_rule (at least one)
    hidden_waived: int


def _rank_sql() -> tuple[str, list]:
    whens = " ".join("WHEN %s THEN %s" for _ in SEVERITY_ORDER)
    params = [value for pair in SEVERITY_ORDER.items() for value in pair]
    return f"CASE severity {whens} ELSE %s END", [*params, len(SEVERITY_ORDER)]


def counted(
    *, filters, cluster_of: dict[int, str], shown: tuple[str, ...], per_rule: int, named: int
):
    """Counts of the checks of the evaluations in CLUSTER_OF ({id: cluster name}) that FILTERS
    (severity, category, rule) and SHOWN (statuses) keep, from RuleCount: the NAMED most
    affected clusters of each rule with the rule's totals, each rule's first slices, and the
    waived checks the statuses hide. One statement."""
    narrow, narrow_params = "", []
    for column in ("severity", "category", "rule"):
        if value := getattr(filters, column):
            narrow += f" AND {column} = %s"
            narrow_params.append(value)
    rank, rank_params = _rank_sql()
    statuses = ", ".join(["%s"] * len(shown))
    # The evaluations by cluster name: a cluster's place breaks ties between counts.
    by_name = sorted(cluster_of, key=cluster_of.__getitem__)
    per_evaluation = (
        f"unnest(%s::bigint[]) WITH ORDINALITY AS e(id, name_order) "
        f"JOIN {RuleCount._meta.db_table} ON evaluation_id = e.id"
    )
    hidden, hidden_params = "0", []
    if WAIVED not in shown:  # waived checks the page does not show, but counts in a note
        hidden = f"(SELECT coalesce(sum(checks), 0) FROM {per_evaluation} WHERE status = %s"  # noqa: S608
        hidden += f"{narrow})"
        hidden_params = [by_name, WAIVED, *narrow_params]
    # Only fixed words are formatted in (the table, column names, placeholders). Each pass
    # over the counts costs (108,000 of them at the bench's 2,000 clusters x 54 rules): the
    # grouping's sort is the first window's order, and the counts are read once.
    sql = f"""
    WITH ranked AS (
        SELECT rule, evaluation_id, name_order, severity, rank, failing, waived, n,
            sum(n) OVER (
                PARTITION BY rule ORDER BY rank, evaluation_id, severity ROWS UNBOUNDED PRECEDING
            ) - n AS before,
            sum(failing) OVER per_cluster AS cluster_failing,
            sum(waived) OVER per_cluster AS cluster_waived,
            row_number() OVER per_cluster AS part
        FROM (
            SELECT rule COLLATE "C" AS rule, {rank} AS rank, evaluation_id,
                severity COLLATE "C" AS severity, e.name_order,
                coalesce(sum(checks) FILTER (WHERE status = %s), 0) AS failing,
                coalesce(sum(checks) FILTER (WHERE status = %s), 0) AS waived,
                sum(checks) AS n
            FROM {per_evaluation}
            WHERE status IN ({statuses}){narrow}
            GROUP BY 1, 2, 3, 4, 5
        ) AS b
        WINDOW per_cluster AS (PARTITION BY rule, evaluation_id)
    ), placed AS (
        SELECT rule, evaluation_id, cluster_failing, cluster_waived,
            row_number() OVER (
                PARTITION BY rule ORDER BY cluster_failing + cluster_waived DESC, name_order
            ) AS place,
            count(*) OVER per_rule AS clusters,
            sum(cluster_failing) OVER per_rule AS rule_failing,
            sum(cluster_waived) OVER per_rule AS rule_waived
        FROM ranked WHERE part = 1
        WINDOW per_rule AS (PARTITION BY rule)
    )
    SELECT 'c', rule, evaluation_id, '', cluster_failing, cluster_waived, place, clusters,
        rule_failing, rule_waived
    FROM placed WHERE place <= %s
    UNION ALL
    SELECT 's', rule, evaluation_id, severity, n, before, rank, 0, 0, 0
    FROM ranked WHERE before < greatest(%s, 1)
    UNION ALL
    SELECT 'h', '', 0, '', {hidden}, 0, 0, 0, 0, 0
    """  # noqa: S608
    params = [
        *rank_params, FAIL, WAIVED, by_name, *shown, *narrow_params, named, per_rule,
        *hidden_params,
    ]  # fmt: skip
    clusters, slices, hidden = [], [], 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, rule, evaluation_id, severity, *numbers in cursor.fetchall():
            if kind == "c":
                clusters.append(ClusterRow(rule, evaluation_id, *map(int, numbers)))
            elif kind == "s":
                n, before, rank = map(int, numbers[:3])
                slices.append((rule, rank, evaluation_id, severity, n, before))
            else:
                hidden = int(numbers[0])
    slices.sort()
    return Counted(
        clusters=clusters,
        slices=[Slice(rule, e, severity, n, before) for rule, _, e, severity, n, before in slices],
        hidden_waived=hidden,
    )


# The clusters' checks of a rule that a "show" counts, and the index whose head has the most.
_MATCHING = {
    (FAIL,): ("failing", "failing > 0"),
    (WAIVED,): ("waived", "waived > 0"),
    (FAIL, WAIVED): ("(failing + waived)", "(failing + waived) > 0"),
}


def current(
    *, filters, names: dict[int, str], shown: tuple[str, ...], per_rule: int, named: int
) -> tuple[Counted, dict[int, str]] | None:
    """counted() for the latest evaluation of every cluster in NAMES ({id: name}), from
    CurrentCount, and {evaluation id: cluster name} of the evaluations it names: one statement.
    None when a rule's checks in one of those evaluations span more than one (category,
    severity), which the filters cannot narrow (counted() can)."""
    narrow, narrow_params = "", []
    for column in ("severity", "category", "rule"):
        if value := getattr(filters, column):
            narrow += f" AND {column} = %s"
            narrow_params.append(value)
    matching, matches = _MATCHING[tuple(sorted(shown))]
    fail_shown, waived_shown = int(FAIL in shown), int(WAIVED in shown)
    table = CurrentCount._meta.db_table
    scope = f"cluster_id = ANY(%s::bigint[]){narrow}"
    # The totals need the rows the page does not show only to count the waived checks it hides.
    totals_scope = scope if WAIVED not in shown else f"{matches} AND {scope}"
    ids = list(names)
    # Only fixed words are formatted in (the table, column names, placeholders). The totals
    # read every row in scope once (hashed by rule); the LATERALs read the head of an index
    # of each rule's rows: the most affected clusters (then by name), the first slices. The
    # latter says "<> 0" (the counts are never negative), not "> 0": the planner, which
    # expects few rows in scope, would otherwise read all of the rule's rows through the
    # partial index of the former and sort them (4.7 against 0.25 ms a rule at 2,000 clusters).
    sql = f"""
    WITH totals AS (
        SELECT rule, sum(failing) * %s AS failing, sum(waived) * %s AS waived,
            count(*) FILTER (WHERE {matches}) AS clusters, sum(waived) AS all_waived
        FROM {table} WHERE {totals_scope}
        GROUP BY rule
    )
    SELECT 't', rule, 0, 0, '', failing, waived, clusters, all_waived FROM totals
    UNION ALL
    SELECT 'c', t.rule, c.evaluation_id, c.cluster_id, '', c.failing * %s, c.waived * %s, 0, 0
    FROM totals t CROSS JOIN LATERAL (
        SELECT * FROM {table} WHERE rule = t.rule AND {matches} AND {scope}
        ORDER BY {matching} DESC, cluster_name COLLATE "C" LIMIT %s
    ) c
    WHERE t.clusters > 0
    UNION ALL
    SELECT 's', t.rule, c.evaluation_id, c.cluster_id, c.severity, c.n, c.severity_rank, 0, 0
    FROM totals t CROSS JOIN LATERAL (
        SELECT evaluation_id, cluster_id, severity, severity_rank, {matching} AS n
        FROM {table} WHERE rule = t.rule AND {matching} <> 0 AND {scope}
        ORDER BY severity_rank, evaluation_id LIMIT %s
    ) c
    WHERE t.clusters > 0
    UNION ALL
    SELECT 'm', '', 0, 0, '', 0, 0, 0, 0 WHERE EXISTS (
        SELECT FROM {table} WHERE mixed AND cluster_id = ANY(%s::bigint[])
    )
    """  # noqa: S608
    params = [
        fail_shown, waived_shown, ids, *narrow_params,
        fail_shown, waived_shown, ids, *narrow_params, named,
        ids, *narrow_params, max(per_rule, 1),
        ids,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    totals, named_rows, firsts, cluster_of = {}, {}, {}, {}
    for kind, rule, evaluation_id, cluster_id, severity, *numbers in found:
        a, b, c, d = map(int, numbers)
        if kind == "m":
            return None
        if kind == "t":
            totals[rule] = (a, b, c, d)
            continue
        cluster_of[evaluation_id] = names[cluster_id]
        if kind == "c":
            named_rows.setdefault(rule, []).append(
                (-(a + b), names[cluster_id], evaluation_id, a, b)
            )
        else:
            firsts.setdefault(rule, []).append((b, evaluation_id, severity, a))
    clusters, slices = [], []
    for rule in sorted(named_rows):
        rule_failing, rule_waived, count, _ = totals[rule]
        for place, (*_, evaluation_id, failing, waived) in enumerate(sorted(named_rows[rule]), 1):
            clusters.append(
                ClusterRow(
                    rule, evaluation_id, failing, waived, place, count, rule_failing, rule_waived
                )
            )
        before = 0
        for _rank, evaluation_id, severity, n in sorted(firsts[rule]):
            if before >= max(per_rule, 1):
                break
            slices.append(Slice(rule, evaluation_id, severity, n, before))
            before += n
    hidden = 0 if WAIVED in shown else sum(t[3] for t in totals.values())
    return Counted(clusters=clusters, slices=slices, hidden_waived=hidden), cluster_of


def first_rows(*, wanted: list[tuple[Slice, int]], shown: tuple[str, ...], category: str):
    """The first K checks (by id) of each (slice, K) in WANTED: one LATERAL ... LIMIT statement
    on the (evaluation, status, rule) index. Rows as ROW_COLUMNS tuples."""
    if not wanted:
        return []
    narrow = " AND c.category = %s" if category else ""
    columns = ", ".join(f"c.{name}" for name in ROW_COLUMNS)
    sql = f"""
    SELECT {columns}
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) AS p(evaluation_id, rule,
        severity, k)
    CROSS JOIN LATERAL (
        SELECT * FROM {CheckResult._meta.db_table} c
        WHERE c.evaluation_id = p.evaluation_id AND c.status = ANY(%s) AND c.rule = p.rule
            AND c.severity = p.severity{narrow}
        ORDER BY c.id LIMIT p.k
    ) c
    """  # noqa: S608
    params = [
        [s.evaluation_id for s, _ in wanted], [s.rule for s, _ in wanted],
        [s.severity for s, _ in wanted], [k for _, k in wanted], list(shown),
    ]  # fmt: skip
    if category:
        params.append(category)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
