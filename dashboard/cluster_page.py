"""The cluster page: a decision screen first (grade, why it is capped, category tiles, fix first),
then what changed, the categories' failing checks, the score history, nodes, services and polls.

Everything is gathered in a fixed number of queries, whatever the size of the cluster: the
readiness reads are readiness.cluster_selectors, the tables dashboard.cluster_tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from clusters.models import Cluster
from maintenance.selectors import occurrences_in_range
from readiness import cluster_selectors
from readiness.charts import Mark, history_chart
from readiness.cluster_selectors import CategoryFindings, Changes, RuleFindings, WhatChanged
from readiness.fixfirst import Fix
from readiness.scorecard import scorecard_from_counts
from readiness.scoring import grade_of
from readiness.selectors import (
    active_waivers,
    check_counts,
    daily_scores,
    evaluation_scores,
    latest_evaluation,
)

from .cluster_tables import (
    NODE_COLUMNS,
    SERVICE_COLUMNS,
    Header,
    NodeRow,
    Sort,
    headers,
    node_rows,
    service_rows,
)

HISTORY_DAYS = 30
CHANGES_DAYS = 7
QUERY_MAX = cluster_selectors.QUERY_MAX

__all__ = ["CategoryFindings", "ClusterPage", "NodeRow", "PageQuery", "RuleFindings"]


@dataclass(frozen=True)
class PageQuery:
    """What the cluster page's URL asks for: ?q= (filter over objects and rules), ?sort= and
    ?dir= (one table's order), ?nodes=all, ?services=all. Bad values are ignored."""

    q: str = ""
    node_sort: Sort = Sort()
    service_sort: Sort = Sort()
    all_nodes: bool = False
    all_services: bool = False
    params: tuple = ()  # the query's own (key, value) pairs, for links that keep them

    @classmethod
    def from_query(cls, query) -> PageQuery:
        return cls(
            q=" ".join(query.get("q", "").split())[:QUERY_MAX],
            node_sort=Sort.from_query(query, NODE_COLUMNS),
            service_sort=Sort.from_query(query, SERVICE_COLUMNS),
            all_nodes=query.get("nodes") == "all",
            all_services=query.get("services") == "all",
            params=tuple(
                (key, query.get(key))
                for key in ("q", "sort", "dir", "nodes", "services")
                if query.get(key)
            ),
        )

    def get(self, key: str, default=None):
        return dict(self.params).get(key, default)

    def items(self):
        return self.params


@dataclass
class FixStep:
    """One Fix-first entry as the page shows it: the change and how many make the grade."""

    number: int
    fix: Fix
    # the remediation's objects beyond the first (the command is the same with their names)
    others: list[str]


@dataclass
class ClusterPage:
    """Everything the cluster page shows, gathered in a fixed number of queries."""

    scorecard: object | None
    evaluated_at: datetime | None
    history_svg: str
    stale: bool
    poll_running: bool
    waivers: list
    categories: list[CategoryFindings]
    fix_first: list[FixStep]
    changes: WhatChanged | None
    nodes: list[NodeRow]
    nodes_total: int
    node_headers: list[Header]
    services: list
    services_total: int
    service_headers: list[Header]
    polls: list
    query: PageQuery

    @property
    def all_nodes(self) -> bool:
        return self.query.all_nodes

    @property
    def all_services(self) -> bool:
        return self.query.all_services

    @property
    def nodes_more(self) -> int:
        return self.nodes_total - len(self.nodes)

    @property
    def services_more(self) -> int:
        return self.services_total - len(self.services)

    @property
    def findings(self) -> list[CategoryFindings]:
        """The categories with failing checks shown (the filter may leave none)."""
        return [c for c in self.categories if c.failing_rules]

    @property
    def capped_by(self) -> list[CategoryFindings]:
        """The categories whose failing critical checks cap the grade."""
        return [c for c in self.categories if c.critical]

    @property
    def uncapped_grade(self) -> str:
        return grade_of(self.scorecard.score) if self.scorecard else ""

    @property
    def change_spans(self) -> list[tuple[str, Changes]]:
        if self.changes is None:
            return []
        return [
            ("Since the last poll", self.changes.last_poll),
            (f"Last {CHANGES_DAYS} days", self.changes.week),
        ]

    @property
    def all_nodes_url(self) -> str:
        return self._with("nodes", "#nodes")

    @property
    def all_services_url(self) -> str:
        return self._with("services", "#services")

    def _with(self, key: str, anchor: str) -> str:
        kept = [(k, v) for k, v in self.query.params if k != key]
        return f"?{urlencode([(key, 'all'), *kept])}{anchor}"

    @property
    def grade_step(self) -> FixStep | None:
        """The first Fix-first entry that reaches a better grade than now, if any."""
        card = self.scorecard
        if card is None:
            return None
        return next((s for s in self.fix_first if s.fix.grade_after < card.grade), None)


def _marks(*, cluster, since: datetime, now: datetime) -> list[Mark]:
    marks = [
        Mark("waiver", when, None, f"{kind}: {rule} ({when:%Y-%m-%d %H:%M} UTC)")
        for when, kind, rule in cluster_selectors.waiver_marks(
            cluster=cluster, since=since, now=now
        )
    ]
    for occurrence in occurrences_in_range(since=since, until=now, cluster=cluster):
        if occurrence.status == "cancelled":
            continue
        marks.append(
            Mark(
                "maintenance",
                occurrence.start,
                occurrence.end,
                f"maintenance: {occurrence.window.name} ({occurrence.start:%Y-%m-%d %H:%M} UTC)",
            )
        )
    return marks


def cluster_page(
    *, cluster: Cluster, now: datetime, poll_running: bool, query: PageQuery | None = None
) -> ClusterPage:
    """The decision screen, findings, history, nodes, services and polls of one cluster."""

    query = query or PageQuery()
    evaluation = latest_evaluation(cluster=cluster, with_changes=False)
    card, categories, fixes, changes = None, [], [], None
    if evaluation is not None:
        counts = check_counts(evaluation=evaluation)
        card = scorecard_from_counts(evaluation_scores(evaluation=evaluation), counts)
        categories = cluster_selectors.category_findings(
            evaluation=evaluation, counts=counts, categories=evaluation.categories, query=query.q
        )
        fixes = [
            FixStep(number=n, fix=fix, others=[o.name for o in fix.objects[1:]])
            for n, fix in enumerate(cluster_selectors.fix_first(evaluation=evaluation), start=1)
        ]
        changes = cluster_selectors.what_changed(
            evaluation=evaluation, since=now - timedelta(days=CHANGES_DAYS)
        )
    since = now - timedelta(days=HISTORY_DAYS)
    history = daily_scores(cluster_ids=[cluster.pk], since=since)
    marks = _marks(cluster=cluster, since=since, now=now)
    nodes, nodes_total = node_rows(
        cluster=cluster, now=now, all_nodes=query.all_nodes, sort=query.node_sort, query=query.q
    )
    services, services_total = service_rows(
        cluster=cluster, all_services=query.all_services, sort=query.service_sort, query=query.q
    )
    return ClusterPage(
        scorecard=card,
        evaluated_at=evaluation.evaluated_at if evaluation else None,
        history_svg=history_chart(
            history.get(cluster.pk, []), now=now, days=HISTORY_DAYS, marks=marks
        ),
        stale=cluster.is_stale(now),
        poll_running=poll_running,
        waivers=list(active_waivers(cluster=cluster, now=now)),
        categories=categories,
        fix_first=fixes,
        changes=changes,
        nodes=nodes,
        nodes_total=nodes_total,
        node_headers=headers(NODE_COLUMNS, query.node_sort, query, "nodes"),
        services=services,
        services_total=services_total,
        service_headers=headers(SERVICE_COLUMNS, query.service_sort, query, "services"),
        polls=list(cluster.poll_runs.order_by("-started_at")[:20]),
        query=query,
    )


@dataclass
class PollProgress:
    """What the poll-status fragment needs."""

    poll_running: bool
