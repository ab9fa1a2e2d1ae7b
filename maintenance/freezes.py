"""Skip dates and freeze periods: writes and the reads the scheduler and calendar need.

A freeze covers local days [first_day, last_day] (a skip date is a one-day freeze), for one
cluster or for all clusters. An occurrence is inside a freeze when its local date (in the
window's zone) is. Occurrences inside a freeze are not materialised; a future occurrence
already materialised when a freeze is added is cancelled with the reason "freeze: NAME"
(its pending reminders go); deleting the freeze brings those back as scheduled unless
another freeze still covers them. Past occurrences are never touched.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from clusters.models import Cluster

from .models import Freeze, Occurrence, Reminder, Window

MAX_SPAN = timedelta(days=366)
REASON = "freeze: {name}"


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


def freezes_between(*, first_day: date, last_day: date, cluster=None):
    """Freezes overlapping [first_day, last_day]: all of them, or those applying to CLUSTER."""
    rows = Freeze.objects.filter(first_day__lte=last_day, last_day__gte=first_day)
    if cluster is not None:
        rows = rows.filter(Q(cluster__isnull=True) | Q(cluster=cluster))
    return rows.select_related("cluster").order_by("first_day", "name")


def _inside(freeze: Freeze, now: datetime):
    """Future occurrences inside FREEZE's days, in the clusters it applies to."""
    rows = Occurrence.objects.filter(
        local_date__gte=freeze.first_day, local_date__lte=freeze.last_day, start__gt=now
    )
    if freeze.cluster_id:
        rows = rows.filter(window__cluster_id=freeze.cluster_id)
    return rows


@transaction.atomic
def freeze_add(
    *,
    name: str,
    first_day: date,
    last_day: date | None = None,
    now: datetime,
    cluster: Cluster | None = None,
    user=None,
) -> tuple[Freeze, int]:
    """A freeze (or, without LAST_DAY, a skip date) for CLUSTER or all clusters. Returns it and
    how many already materialised future occurrences it cancelled."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Name the freeze (for example: year-end change freeze).")
    if len(name) > 100:
        raise ValidationError("A freeze name has at most 100 characters.")
    last_day = last_day or first_day
    if last_day < first_day:
        raise ValidationError(f"The freeze ends ({last_day}) before it starts ({first_day}).")
    if last_day - first_day > MAX_SPAN:
        raise ValidationError("A freeze lasts at most a year.")
    same = Freeze.objects.filter(name=name, cluster=cluster)
    if same.exists():
        raise ValidationError(f"A freeze named {name!r} exists already for {_scope(cluster)}.")
    freeze = Freeze.objects.create(
        cluster=cluster,
        name=name,
        first_day=first_day,
        last_day=last_day,
        created_by=user,
        created_at=now,
    )
    inside = _inside(freeze, now).exclude(status=Occurrence.Status.CANCELLED)
    ids = list(inside.values_list("pk", flat=True))
    Reminder.objects.filter(occurrence_id__in=ids, status=Reminder.Status.PENDING).delete()
    cancelled = Occurrence.objects.filter(pk__in=ids).update(
        status=Occurrence.Status.CANCELLED, cancelled_reason=REASON.format(name=name)[:255]
    )
    return freeze, cancelled


@transaction.atomic
def freeze_delete(*, freeze: Freeze, now: datetime) -> int:
    """Delete FREEZE; the future occurrences it cancelled are scheduled again unless another
    freeze covers them. Returns how many came back."""
    freeze = Freeze.objects.select_for_update().get(pk=freeze.pk)
    cancelled = list(
        _inside(freeze, now)
        .filter(
            status=Occurrence.Status.CANCELLED,
            cancelled_reason=REASON.format(name=freeze.name)[:255],
        )
        .select_related("window")
    )
    freeze.delete()
    back = []
    for occurrence in cancelled:
        still = frozen_days(
            cluster_id=occurrence.window.cluster_id,
            first_day=occurrence.local_date,
            last_day=occurrence.local_date,
        )
        if not still:
            back.append(occurrence.pk)
    Occurrence.objects.filter(pk__in=back).update(
        status=Occurrence.Status.SCHEDULED, cancelled_reason=""
    )
    from . import services  # services imports this module

    windows = Window.objects.all()
    if freeze.cluster_id:
        windows = windows.filter(cluster_id=freeze.cluster_id)
    for window in windows:
        services.occurrences_materialise(window=window, now=now)
    return len(back)


def _scope(cluster: Cluster | None) -> str:
    return f"cluster {cluster.name}" if cluster else "all clusters"
