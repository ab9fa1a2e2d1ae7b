"""Writes of skip dates and freeze periods (the rules are in maintenance/freezes.py): adding
one cancels the future occurrences inside it, deleting one brings them back unless another
freeze still covers them. Past occurrences are never touched."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from audit import services as audit
from clusters.models import Cluster
from maintenance.freezes import frozen_days
from maintenance.models import Freeze, Occurrence, Reminder, Window
from maintenance.services.windows import occurrences_materialise

MAX_SPAN = timedelta(days=366)
REASON = "freeze: {name}"
AUDIT_FIELDS = ("name", "scope", "first_day", "last_day")


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
    after = {**audit.fields(freeze, AUDIT_FIELDS), "cancelled": cancelled}
    audit.record(action="freeze.create", obj=freeze, after=after)
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
    before = audit.fields(freeze, AUDIT_FIELDS)
    audit.record(action="freeze.delete", obj=freeze, before=before)
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
    windows = Window.objects.all()
    if freeze.cluster_id:
        windows = windows.filter(cluster_id=freeze.cluster_id)
    for window in windows:
        occurrences_materialise(window=window, now=now)
    return len(back)


def _scope(cluster: Cluster | None) -> str:
    return f"cluster {cluster.name}" if cluster else "all clusters"
