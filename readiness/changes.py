"""What changed: the failures that appeared and were resolved over a span, summed from the
FailureChange rows each evaluation writes (readiness.services). Evaluations are thinned to one
a day after WATCHKEEPER_DETAIL_HOURS and checks kept only for the latest ones; these rows stay
CHANGES_KEPT (8 days), so a week's changes stay exact whatever the thinning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Max

from readiness.models import FailureChange
from watchkeeper.pgarray import array_text

Key = tuple[str, str, str]  # rule, object type, object name


@dataclass
class NetChanges:
    """Failures new since the span began and still failing, and failures failing then and
    resolved (or waived) since; one that appeared then went (or the reverse) is neither.
    Key -> the message the failure appeared with ("" for resolved ones)."""

    new: dict[Key, str] = field(default_factory=dict)
    resolved: dict[Key, str] = field(default_factory=dict)


def net_changes(
    *, cluster_ids, since: datetime, severity: str | None = None
) -> dict[int, NetChanges]:
    """cluster id -> its NetChanges since SINCE (only SEVERITY's, if given), in one query;
    clusters without a change are left out."""
    rows = FailureChange.objects.filter(cluster_id__in=list(cluster_ids), at__gte=since)
    if severity is not None:
        rows = rows.filter(severity=severity)
    columns = ("cluster_id", "appeared", "rule", "object_type", "object_name", "message")
    result: dict[int, NetChanges] = {}
    for cluster_id, appeared, rule, kind, name, message in rows.order_by("at", "id").values_list(
        *columns
    ):
        net = result.get(cluster_id) or result.setdefault(cluster_id, NetChanges())
        _fold(net, (rule, kind, name), appeared, message)
    return result


def _fold(net: NetChanges, key: Key, appeared: bool, message: str) -> None:
    """NET once the change of KEY that comes next (in time) is added."""
    if appeared:
        if net.resolved.pop(key, None) is None:
            net.new[key] = message
    elif net.new.pop(key, None) is None:
        net.resolved[key] = message


# --- Linked rows: counted without being read ---
#
# Each row readiness.services writes is `linked`: its `previous_at` is the latest `at` of the
# cluster's earlier rows of the same failure (rule, object type, object name), None when none
# is kept. Over a span from SINCE, a failure is "followed" when one of its rows of the span is
# not linked or has a previous_at in the span: it changed more than once (or may have), and
# its rows are folded one by one as net_changes does. Any other failure has a single row in
# the span (a second one would follow the first), which is its net change: those rows are
# counted, and the first few read in key order, by the database. A first poll's 85,000 new
# failures are then two counts and a few rows of the failurechange_failure index.

# PostgreSQL compares and orders the keys by code point (Python's order of str, the order of
# the failurechange_failure index there: readiness/0009); SQLite's own order is that already.
C = ' COLLATE "C"'


def _c() -> str:
    return C if connection.vendor == "postgresql" else ""


def latest_change_at(*, cluster_id: int, keys) -> dict[Key, datetime]:
    """The latest `at` of CLUSTER_ID's FailureChange rows of each of KEYS that has one: two
    queries (on PostgreSQL two probes of the failurechange_failure index per key), one when
    the cluster has no row (its first poll: 85,000 keys not sent)."""
    if not keys or not FailureChange.objects.filter(cluster_id=cluster_id).exists():
        return {}
    if connection.vendor == "postgresql":
        rules, kinds, names = (array_text(column) for column in zip(*keys, strict=True))
        with connection.cursor() as cursor:
            # two probes of the index per key (new, resolved rows), each its latest row
            latest = (
                "(SELECT MAX(f.at) FROM readiness_failurechange f "  # noqa: S608
                "WHERE f.cluster_id = %(c)s "
                f"AND f.appeared = {{appeared}} AND f.rule{C} = k.rule "
                f"AND f.object_type{C} = k.kind AND f.object_name{C} = k.name)"
            )
            cursor.execute(
                "SELECT * FROM (SELECT k.rule, k.kind, k.name, "  # noqa: S608
                f"GREATEST({latest.format(appeared='TRUE')}, {latest.format(appeared='FALSE')}) "
                "AS at FROM unnest(%(rules)s::varchar[], %(kinds)s::varchar[], "
                "%(names)s::varchar[]) AS k(rule, kind, name) OFFSET 0) AS l "
                "WHERE l.at IS NOT NULL",
                {"c": cluster_id, "rules": rules, "kinds": kinds, "names": names},
            )
            return {(rule, kind, name): at for rule, kind, name, at in cursor.fetchall()}
    rows = (
        FailureChange.objects.filter(cluster_id=cluster_id, rule__in={key[0] for key in keys})
        .values_list("rule", "object_type", "object_name")
        .annotate(latest=Max("at"))
        .order_by()
    )
    return {(rule, kind, name): at for rule, kind, name, at in rows if (rule, kind, name) in keys}


@dataclass
class ChangeCount:
    """A cluster's net changes over a span as the cluster page shows them: how many new and
    resolved failures, and the first few of each by (rule, object type, object name)."""

    new: int
    resolved: int
    new_first: list[Key]
    resolved_first: list[Key]


def net_change_count(*, cluster_id: int, since: datetime, shown: int) -> ChangeCount:
    """CLUSTER_ID's NetChanges since SINCE, counted, with the first SHOWN new and resolved
    failures in Python's order of their keys: one query, which reads the rows of the followed
    failures and SHOWN rows of each kind of the others (see above), whatever their number."""
    c = _c()
    same = (
        f"f.appeared IN (TRUE, FALSE) AND f.rule{c} = m.rule AND f.object_type{c} = m.object_type "
        f"AND f.object_name{c} = m.object_name"
    )
    # a row of the span that is its failure's first (the failure may be followed)
    head = (
        "f.cluster_id = %(cluster)s AND f.appeared IN (TRUE, FALSE) AND f.at >= %(since)s "
        "AND f.linked AND (f.previous_at IS NULL OR f.previous_at < %(since)s)"
    )
    alone = f"{head} AND NOT EXISTS (SELECT 1 FROM followed m WHERE {same})"  # noqa: S608
    # head: a row counted with the heads (the comparison is made in SQL, where SQLite's
    # timestamps are comparable)
    columns = (
        "f.id, f.at, f.appeared, (f.linked AND (f.previous_at IS NULL "
        "OR f.previous_at < %(since)s)) AS head, f.rule, f.object_type, f.object_name"
    )
    order = f"f.rule{c}, f.object_type{c}, f.object_name{c}"
    sql = (
        # the predicate repeats the failurechange_followed index's, so that it is used
        "WITH followed AS (SELECT DISTINCT rule, object_type, object_name "  # noqa: S608
        "FROM readiness_failurechange WHERE cluster_id = %(cluster)s AND at >= %(since)s "
        "AND (NOT linked OR previous_at IS NOT NULL) "
        "AND (NOT linked OR previous_at >= %(since)s)) "
        f"SELECT 'f', {columns} FROM followed m JOIN readiness_failurechange f "
        f"ON f.cluster_id = %(cluster)s AND f.at >= %(since)s AND {same} "
        # the heads counted, those of followed failures with them (taken off below)
        "UNION ALL SELECT 'c', COUNT(*), NULL, f.appeared, NULL, NULL, NULL, NULL "
        f"FROM readiness_failurechange f WHERE {head} GROUP BY f.appeared "
        f"UNION ALL SELECT * FROM (SELECT 'n', {columns} FROM readiness_failurechange f "
        f"WHERE {alone} AND f.appeared ORDER BY {order} LIMIT %(shown)s) AS n "
        f"UNION ALL SELECT * FROM (SELECT 'r', {columns} FROM readiness_failurechange f "
        f"WHERE {alone} AND NOT f.appeared ORDER BY {order} LIMIT %(shown)s) AS r"
    )
    with connection.cursor() as cursor:
        since = connection.ops.adapt_datetimefield_value(since)  # as the ORM passes it
        cursor.execute(sql, {"cluster": cluster_id, "since": since, "shown": shown})
        rows = cursor.fetchall()
    alone_count, first, followed = {True: 0, False: 0}, {"n": [], "r": []}, []
    for tag, pk_or_count, at, appeared, head, *key in rows:
        appeared = bool(appeared)
        if tag == "c":
            alone_count[appeared] += pk_or_count
        elif tag in first:
            first[tag].append(tuple(key))
        else:
            followed.append((at, pk_or_count, appeared, tuple(key)))
            if head:
                alone_count[appeared] -= 1  # counted above
    net = NetChanges()
    for _, _, appeared, key in sorted(followed):
        _fold(net, key, appeared, "")
    return ChangeCount(
        new=alone_count[True] + len(net.new),
        resolved=alone_count[False] + len(net.resolved),
        new_first=sorted([*first["n"], *net.new])[:shown],
        resolved_first=sorted([*first["r"], *net.resolved])[:shown],
    )
