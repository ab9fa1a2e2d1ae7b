"""Skip dates and freeze periods: the reads the scheduler and calendar need (the writes are
in maintenance/services/freezes.py).

A freeze covers local days [first_day, last_day] (a skip date is a one-day freeze), for one
cluster or for all clusters. An occurrence is inside a freeze when its local date (in the
window's zone) is. Occurrences inside a freeze are not materialised; a future occurrence
already materialised when a freeze is added is cancelled with the reason "freeze: NAME"
(its pending reminders go); deleting the freeze brings those back as scheduled unless
another freeze still covers them. Past occurrences are never touched.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Q

from .models import Freeze


def _applying(*, cluster_id: int | None):
    """Freezes that apply to a cluster: its own and the all-cluster ones."""
    return Freeze.objects.filter(Q(cluster__isnull=True) | Q(cluster_id=cluster_id))


def frozen_days(*, cluster_id: int, first_day: date, last_day: date) -> frozenset[date]:
    """The local days in [first_day, last_day] covered by a freeze that applies to the cluster."""
    days: set[date] = set()
    rows = _applying(cluster_id=cluster_id).filter(first_day__lte=last_day, last_day__gte=first_day)
    for first, last in rows.values_list("first_day", "last_day"):
        day = max(first, first_day)
        while day <= min(last, last_day):
            days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


def freezes_between(*, first_day: date, last_day: date, cluster=None, clusters=None):
    """Freezes overlapping [first_day, last_day]: all of them, or those applying to CLUSTER
    (or to one of the CLUSTERS queryset: fleet-wide ones and those of these clusters)."""
    rows = Freeze.objects.filter(first_day__lte=last_day, last_day__gte=first_day)
    if clusters is not None:
        rows = rows.filter(Q(cluster__isnull=True) | Q(cluster__in=clusters))
    if cluster is not None:
        rows = rows.filter(Q(cluster__isnull=True) | Q(cluster=cluster))
    return rows.select_related("cluster").order_by("first_day", "name")
