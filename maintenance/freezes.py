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

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Q

from . import recurrence
from .models import Freeze, Occurrence, Window


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


def skipped_notes(
    *, first_day: date, last_day: date, cluster=None, clusters=None
) -> dict[date, list[str]]:
    """Local day -> why maintenance is skipped that day: freezes and skip dates (naming each
    occurrence a freeze removed), and months in which a monthly window's day does not exist
    (shown on that month's last day). With CLUSTER (or the CLUSTERS queryset: those a user
    sees) only the windows and freezes of those clusters, and the all-cluster freezes."""
    notes: dict[date, list[str]] = defaultdict(list)
    windows = Window.objects.select_related("cluster").order_by("cluster__name", "name")
    if cluster is not None:
        windows = windows.filter(cluster=cluster)
    if clusters is not None:
        windows = windows.filter(cluster__in=clusters)
    windows = list(windows)
    frozen = list(
        freezes_between(first_day=first_day, last_day=last_day, cluster=cluster, clusters=clusters)
    )
    stored = set()
    if frozen:
        stored = set(
            Occurrence.objects.filter(
                window__in=windows, local_date__gte=first_day, local_date__lte=last_day
            ).values_list("window_id", "local_date")
        )
    for item in frozen:
        first, last = max(item.first_day, first_day), min(item.last_day, last_day)
        day = first
        while day <= last:
            notes[day].append(f"Freeze: {item.name} ({item.scope}), no maintenance")
            day += timedelta(days=1)
        for window in windows:
            if item.cluster_id not in (None, window.cluster_id):
                continue
            for slot in window.slots(first, last):
                if (window.pk, slot.local_date) in stored:
                    continue  # materialised before the freeze: shown cancelled, with why
                notes[slot.local_date].append(
                    f"Removed by freeze {item.name}: {window.cluster.name} · {window.name} "
                    f"{slot.local_start:%H:%M} {window.tz}"
                )
    for window in windows:
        if not window.rrule.startswith("FREQ=MONTHLY"):
            continue
        for day, why in recurrence.skipped_months(
            window.rrule,
            active_from=window.active_from,
            active_until=window.active_until,
            first_day=first_day,
            last_day=last_day,
        ):
            notes[day].append(f"{window.cluster.name} · {window.name}: {why}")
    return dict(notes)
