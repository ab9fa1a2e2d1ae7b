"""The cluster page's node and service tables: sorted on the server by any column (?sort=COL
&dir=asc|desc, links in the headers), capped (problems first by default) unless all are asked
for, filtered by name (?q=). An unknown sort column or direction is ignored: default order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When, Window

from clusters.models import RunningTask, Service
from maintenance.selectors import last_reboots
from readiness.policy import TIER_ORDER
from readiness.selectors import cluster_policy

NODES_SHOWN = 100
SERVICES_SHOWN = 100
EPOCH = datetime.min.isoformat()

# column -> header; SQL columns sort in the database, the others (computed per row) in Python
NODE_COLUMNS = {
    "hostname": "Node",
    "role": "Role",
    "tier": "Tier",
    "cpus": "CPUs",
    "memory": "Memory",
    "state": "State",
    "availability": "Availability",
    "tasks": "Running tasks",
    "reserved": "Reserved",
    "reboot": "Last verified reboot",
}
NODE_SQL = {
    "hostname": "hostname",
    "role": "role",
    "cpus": "cpus",
    "memory": "memory_bytes",
    "state": "state",
    "availability": "availability",
}
SERVICE_COLUMNS = {
    "name": "Service",
    "mode": "Mode",
    "replicas": "Tasks",
    "image": "Image",
    "labels": "Labels",
}
SERVICE_SQL = {
    "name": ("name",),
    "mode": ("mode",),
    "replicas": ("running_tasks", "desired_tasks"),
    "image": ("image",),
    "labels": ("labels",),
}


@dataclass(frozen=True)
class Sort:
    """The table order asked for: COLUMN ("" = default) and direction."""

    column: str = ""
    descending: bool = False

    @classmethod
    def from_query(cls, query, columns) -> Sort:
        """?sort=COL&dir=asc|desc when COL is one of COLUMNS; anything else is the default."""
        column = query.get("sort", "")
        if column not in columns:
            return cls()
        return cls(column, query.get("dir", "asc") == "desc")


@dataclass(frozen=True)
class Header:
    key: str
    label: str
    url: str
    direction: str  # "ascending" | "descending" | "" (aria-sort)


def headers(columns: dict, sort: Sort, query, anchor: str) -> list[Header]:
    """Column headers, each linking to its own sort (the current one reversed), keeping the
    other parameters of QUERY (filter, all rows)."""
    kept = [(k, v) for k, v in query.items() if k not in ("sort", "dir")]
    result = []
    for key, label in columns.items():
        current = sort.column == key
        descending = current and not sort.descending
        params = urlencode([*kept, ("sort", key), ("dir", "desc" if descending else "asc")])
        direction = ("descending" if sort.descending else "ascending") if current else ""
        result.append(Header(key, label, f"?{params}#{anchor}", direction))
    return result


@dataclass
class NodeRow:
    node: object
    tier: str
    running_tasks: int
    reserved_percent: int | None
    last_reboot: datetime | None


def _by_row_key(column: str):
    def key(row: NodeRow):
        if column == "tier":
            return TIER_ORDER.index(row.tier) if row.tier in TIER_ORDER else -1
        if column == "tasks":
            return row.running_tasks
        if column == "reserved":
            return -1 if row.reserved_percent is None else row.reserved_percent
        return row.last_reboot.isoformat() if row.last_reboot else EPOCH

    return key


def node_rows(
    *, cluster, now: datetime, all_nodes: bool, sort: Sort, query: str = ""
) -> tuple[list[NodeRow], int]:
    """The cluster's nodes (those whose name contains QUERY), in SORT's order or those not
    ready or not active first, and how many there are. Four queries, whatever the sort."""

    policy = cluster_policy(cluster=cluster)
    reboots = last_reboots(cluster=cluster, now=now)
    healthy = Q(state="ready", availability="active")
    nodes = cluster.nodes.filter(removed_at__isnull=True)
    if query:
        nodes = nodes.filter(hostname__icontains=query)
    nodes = nodes.annotate(
        problem=Case(When(healthy, then=Value(0)), default=Value(1), output_field=IntegerField()),
        total=Window(Count("id")),
    )
    in_python = sort.column and sort.column not in NODE_SQL
    if sort.column in NODE_SQL:
        field = F(NODE_SQL[sort.column])
        nodes = nodes.order_by(field.desc() if sort.descending else field.asc(), "hostname")
    else:
        nodes = nodes.order_by("-problem", "-role", "hostname")
    nodes = list(nodes if all_nodes or in_python else nodes[:NODES_SHOWN])
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
    if in_python:
        rows.sort(key=lambda row: row.node.hostname)
        rows.sort(key=_by_row_key(sort.column), reverse=sort.descending)
        if not all_nodes:
            rows = rows[:NODES_SHOWN]
    return rows, (nodes[0].total if nodes else 0)


def service_rows(*, cluster, all_services: bool, sort: Sort, query: str = "") -> tuple[list, int]:
    """The cluster's services (those whose name contains QUERY), in SORT's order or those short
    of their desired tasks first, and how many. One query for all of them; two for the first
    SERVICES_SHOWN: their ids and the count, from the narrow columns only, then their rows (a
    big swarm's 20,000 services are some 30 MB with their labels: ordering and counting them
    whole spilled to disk)."""

    services = cluster.services.filter(removed_at__isnull=True)
    if query:
        services = services.filter(name__icontains=query)
    services = services.annotate(
        problem=Case(
            When(Q(running_tasks__lt=F("desired_tasks")), then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        total=Window(Count("id")),
    )
    if sort.column:
        fields = [F(name) for name in SERVICE_SQL[sort.column]]
        order = [f.desc() if sort.descending else f.asc() for f in fields]
        services = services.order_by(*order, "name")
    else:
        services = services.order_by("-problem", "name")
    if all_services:
        shown = list(services)
        return shown, (shown[0].total if shown else 0)
    first = list(services.values_list("pk", "total")[:SERVICES_SHOWN])
    rows = Service.objects.in_bulk([pk for pk, _ in first])
    return [rows[pk] for pk, _ in first], (first[0][1] if first else 0)
