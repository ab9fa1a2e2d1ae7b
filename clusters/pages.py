"""Read-only assembly of the dashboard's cluster pages from each app's selectors.

Views call one function here; it gathers, in a fixed number of queries whatever the number of
clusters, what the clusters, readiness and maintenance apps say about each cluster.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from readiness.charts import sparkline

from .models import Cluster

GRADES = ("A", "B", "C", "D", "F")
STALE_AFTER_INTERVALS = 3


@dataclass
class NextWindow:
    """The next maintenance occurrence of a cluster, with the window's own zone."""

    name: str
    start: datetime
    end: datetime
    time_zone: str


@dataclass
class FleetRow:
    """One cluster on the fleet page."""

    cluster: Cluster
    score: int | None = None
    grade: str | None = None
    grade_capped: bool = False
    critical: int = 0
    history: list[tuple[datetime, int]] = field(default_factory=list)
    sparkline: str = ""
    last_poll_at: datetime | None = None
    last_poll_ok: bool | None = None
    last_error: str = ""
    last_good_at: datetime | None = None
    stale: bool = False
    next_window: NextWindow | None = None
    overdue_backups: int = 0
    overdue_steps: int = 0


@dataclass
class FleetFilter:
    environment: str = ""
    grade: str = ""

    @classmethod
    def from_query(cls, query) -> "FleetFilter":
        environment = query.get("environment", "")
        grade = query.get("grade", "")
        return cls(
            environment=environment if environment in Cluster.Environment.values else "",
            grade=grade if grade in GRADES or grade == "none" else "",
        )


def is_stale(*, last_good_at: datetime | None, interval_seconds: int, now: datetime) -> bool:
    """Stale: no good poll within three poll intervals (or never one)."""
    if last_good_at is None:
        return True
    return now - last_good_at > timedelta(seconds=STALE_AFTER_INTERVALS * interval_seconds)


def fleet_rows(*, now: datetime, filters: FleetFilter) -> list[FleetRow]:
    """Every cluster (filtered) with grade, score history, poll state and maintenance state."""
    clusters = Cluster.objects.order_by("name")
    if filters.environment:
        clusters = clusters.filter(environment=filters.environment)
    rows = [FleetRow(cluster=cluster) for cluster in clusters]
    for row in rows:
        row.stale = is_stale(
            last_good_at=row.last_good_at,
            interval_seconds=row.cluster.poll_interval,
            now=now,
        )
        row.sparkline = sparkline(row.history, now=now)
    if filters.grade:
        wanted = None if filters.grade == "none" else filters.grade
        rows = [row for row in rows if row.grade == wanted]
    return rows
