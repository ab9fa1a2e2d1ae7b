"""Writes of maintenance windows and their occurrences: create, edit, materialise, cancel,
reboot verification, and the cluster's calendar token. Every function takes `now` from its
caller."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from clusters import selectors as cluster_selectors
from clusters.models import Cluster, new_calendar_token
from maintenance import freezes, recurrence
from maintenance import occurrences as occ
from maintenance.models import NodeVerification, Occurrence, Reminder, Window

HORIZON = timedelta(weeks=8)
REFRESH_AFTER_END = timedelta(days=1)  # late observations still upgrade an occurrence


AUDIT_FIELDS = (
    "cluster",
    "name",
    "rrule",
    "start_time",
    "duration_minutes",
    "tz",
    "active_from",
    "active_until",
)


def _check_window(
    *,
    start_time: time,
    duration_minutes: int,
    tz: str,
    weekdays: str = "",
    rrule: str = "",
    once: date | None = None,
) -> str:
    """Validate window fields; the canonical RRULE (weekdays and once are shorthands)."""
    try:
        rule = recurrence.rule_from(weekdays=weekdays, rrule=rrule, once=once)
        occ.check_duration(duration_minutes)
        occ.zone(tz)
    except occ.ScheduleError as exc:
        raise ValidationError(str(exc)) from None
    if not isinstance(start_time, time):
        raise ValidationError("The start must be a local time HH:MM.")
    return rule


def _check_occurs(window: Window, now: datetime) -> None:
    """Refuse a window whose rule never occurs again (nothing is stored)."""
    upcoming = recurrence.first_slot(
        rule=window.rrule,
        start_time=window.start_time,
        duration_minutes=window.duration_minutes,
        tz_name=window.tz,
        active_from=window.active_from,
        active_until=window.active_until,
        now=now,
    )
    if upcoming is None:
        raise ValidationError(
            f"The rule {window.rrule} never occurs from {window.active_from} on "
            f"(within {recurrence.SEARCH_YEARS} years, UNTIL/COUNT and active-until applied); "
            "nothing was stored."
        )


@transaction.atomic
def window_create(
    *,
    cluster: Cluster,
    start_time: time,
    duration_minutes: int,
    tz: str,
    now: datetime,
    weekdays: str = "",
    rrule: str = "",
    once: date | None = None,
    name: str = "",
    active_from: date | None = None,
    active_until: date | None = None,
) -> Window:
    """A new window (weekdays: weekly shorthand; rrule: any RFC 5545 rule; once: a one-off
    day); its occurrences for the coming weeks are materialised."""
    canonical = _check_window(
        weekdays=weekdays,
        rrule=rrule,
        once=once,
        start_time=start_time,
        duration_minutes=duration_minutes,
        tz=tz,
    )
    if once:
        active_from = active_until = once
    described = recurrence.describe(canonical, once).capitalize()
    name = (name or f"{described} {start_time:%H:%M}")[:100].strip()
    if cluster.maintenance_windows.filter(name=name).exists():
        raise ValidationError(f"Cluster {cluster.name} already has a window named {name!r}.")
    active_from = active_from or occ.local_today(now, tz)
    if active_until and active_until < active_from:
        raise ValidationError("active-until is before active-from.")
    window = Window(
        cluster=cluster,
        name=name,
        rrule=canonical,
        start_time=start_time.replace(second=0, microsecond=0),
        duration_minutes=duration_minutes,
        tz=tz,
        active_from=active_from,
        active_until=active_until,
    )
    window.full_clean()
    _check_occurs(window, now)
    window.save()
    occurrences_materialise(window=window, now=now)
    audit.record(action="window.create", obj=window, after=audit.fields(window, AUDIT_FIELDS))
    return window


@transaction.atomic
def window_update(*, window: Window, now: datetime, **changes) -> Window:
    """Change a window; only its future occurrences are re-materialised, past ones stay."""
    allowed = {
        "name",
        "weekdays",
        "rrule",
        "start_time",
        "duration_minutes",
        "tz",
        "active_from",
        "active_until",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Unknown window fields: {', '.join(sorted(unknown))}.")
    window = Window.objects.select_for_update().get(pk=window.pk)
    before = audit.fields(window, AUDIT_FIELDS)
    weekdays = changes.pop("weekdays", "")
    for key, value in changes.items():
        setattr(window, key, value)
    if isinstance(window.start_time, time):
        window.start_time = window.start_time.replace(second=0, microsecond=0)
    window.rrule = _check_window(
        weekdays=weekdays,
        rrule="" if weekdays else window.rrule,
        start_time=window.start_time,
        duration_minutes=window.duration_minutes,
        tz=window.tz,
    )
    if window.active_until and window.active_until < window.active_from:
        raise ValidationError("active-until is before active-from.")
    window.full_clean()
    _check_occurs(window, now)
    window.save()
    future = window.occurrences.filter(start__gt=now)
    cancelled_days = dict(
        future.filter(status=Occurrence.Status.CANCELLED).values_list(
            "local_date", "cancelled_reason"
        )
    )
    # as far ahead as occurrences were stored (a listing may have gone past the horizon), so
    # that a cancelled day there stays cancelled
    last_stored = max(future.values_list("local_date", flat=True), default=None)
    horizon_day = occ.local_today(now + HORIZON, window.tz)
    Reminder.objects.filter(occurrence__in=future, status=Reminder.Status.PENDING).delete()
    future.delete()
    occurrences_materialise(
        window=window,
        now=now,
        last_day=max(last_stored or horizon_day, horizon_day),
        cancelled_days=cancelled_days,
    )
    audit.record(
        action="window.update", obj=window, before=before, after=audit.fields(window, AUDIT_FIELDS)
    )
    return window


def occurrences_materialise(
    *,
    window: Window,
    now: datetime,
    first_day: date | None = None,
    last_day: date | None = None,
    cancelled_days: dict[date, str] | None = None,
) -> int:
    """Create the missing occurrences of WINDOW (default: from today to the horizon).
    CANCELLED_DAYS (local date -> reason) are created cancelled (window_update keeps them).

    An occurrence that has already ended is never created afterwards, whatever the range
    (listing past days shows what was stored, it does not invent a window that never
    happened and then report it missed). Returns how many were new.
    """
    today = occ.local_today(now, window.tz)
    first_day = first_day or today - timedelta(days=1)
    last_day = last_day or occ.local_today(now + HORIZON, window.tz)
    existing = set(
        window.occurrences.filter(local_date__gte=first_day, local_date__lte=last_day).values_list(
            "local_date", flat=True
        )
    )
    rows = []
    skip = freezes.frozen_days(cluster_id=window.cluster_id, first_day=first_day, last_day=last_day)
    for slot in window.slots(first_day, last_day, skip=skip):
        if slot.local_date in existing:
            continue
        if slot.end <= now:
            continue
        cancelled = cancelled_days is not None and slot.local_date in cancelled_days
        rows.append(
            Occurrence(
                window=window,
                local_date=slot.local_date,
                start=slot.start,
                end=slot.end,
                local_start=slot.local_start.isoformat(),
                status=Occurrence.Status.CANCELLED if cancelled else Occurrence.Status.SCHEDULED,
                cancelled_reason=cancelled_days[slot.local_date] if cancelled else "",
            )
        )
    Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def occurrence_cancel(*, occurrence: Occurrence, now: datetime, reason: str = "") -> Occurrence:
    """Cancel a future occurrence (its pending reminders go too). The row is locked and read
    again, so an occurrence that started (or was replaced by window_update) meanwhile is
    refused, not cancelled."""
    with transaction.atomic():
        locked = Occurrence.objects.select_for_update().filter(pk=occurrence.pk).first()
        if locked is None:
            raise ValidationError("The occurrence no longer exists (its window was changed).")
        if locked.start <= now:
            raise ValidationError("Only an occurrence that has not started can be cancelled.")
        locked.status = Occurrence.Status.CANCELLED
        locked.cancelled_reason = (reason or "").strip()[:255]
        locked.save(update_fields=["status", "cancelled_reason"])
        locked.reminders.filter(status=Reminder.Status.PENDING).delete()
    occurrence.status, occurrence.cancelled_reason = locked.status, locked.cancelled_reason
    return locked


# --- verification -------------------------------------------------------------


def occurrence_confirm_reboot(
    *, occurrence: Occurrence, node_id: str, user, note: str, now: datetime, hostname: str = ""
) -> NodeVerification:
    """An operator confirms a node's reboot during OCCURRENCE, with a note."""
    note = (note or "").strip()
    if not note:
        raise ValidationError("Say how the reboot was checked (a note is required).")
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise ValidationError("The occurrence was cancelled.")
    if occurrence.start > now:
        raise ValidationError("The occurrence has not started yet.")
    cluster = occurrence.window.cluster
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    known = {node.id: node.hostname for node in snapshot.nodes} if snapshot is not None else {}
    known.update(occurrence.expected_nodes or {})
    if node_id not in known:
        raise ValidationError(f"{node_id!r} is not a node of cluster {cluster.name}.")
    hostname = hostname or known[node_id]
    verification, created = NodeVerification.objects.get_or_create(
        occurrence=occurrence,
        node_id=node_id,
        defaults={
            "hostname": hostname,
            "verified_at": now,
            "source": NodeVerification.Source.CONFIRMED,
            "confirmed_by": user,
            "note": note,
        },
    )
    audit.record(
        action="occurrence.confirm_reboot",
        obj=f"{cluster.name} occurrence {occurrence.pk}",
        object_type="occurrence",
        after={"node_id": node_id, "hostname": hostname, "note": note},
    )
    if not created and verification.source == NodeVerification.Source.CONFIRMED:
        verification.note = note
        verification.confirmed_by = user
        verification.save(update_fields=["note", "confirmed_by"])
    occurrence_refresh(occurrence=occurrence, now=now)
    return verification


def occurrence_refresh(*, occurrence: Occurrence, now: datetime) -> Occurrence:
    """Record observed reboots and set the status (in_progress, completed, partial, missed)."""
    if occurrence.status == Occurrence.Status.CANCELLED or occurrence.start > now:
        return occurrence
    cluster = occurrence.window.cluster
    if not occurrence.expected_nodes:
        snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
        if snapshot is not None:
            occurrence.expected_nodes = {node.id: node.hostname for node in snapshot.nodes}
    seen = set(occurrence.verifications.values_list("node_id", flat=True))
    reboots = cluster_selectors.node_reboots(
        cluster=cluster, since=occurrence.start, until=min(occurrence.end, now)
    )
    for reboot in reboots:
        if reboot.node_id in seen:
            continue
        NodeVerification.objects.get_or_create(
            occurrence=occurrence,
            node_id=reboot.node_id,
            defaults={
                "hostname": reboot.hostname,
                "verified_at": reboot.ready_at,
                "source": NodeVerification.Source.OBSERVED,
                "note": f"down at {reboot.down_at:%H:%M:%S}Z, ready at {reboot.ready_at:%H:%M:%S}Z",
            },
        )
        seen.add(reboot.node_id)
    expected = set(occurrence.expected_nodes)
    if now < occurrence.end:
        status = Occurrence.Status.IN_PROGRESS
    elif not expected:
        status = Occurrence.Status.COMPLETED if seen else Occurrence.Status.MISSED
    elif expected <= seen:
        status = Occurrence.Status.COMPLETED
    elif expected & seen:
        status = Occurrence.Status.PARTIAL
    else:
        status = Occurrence.Status.MISSED
    occurrence.status = status
    occurrence.save(update_fields=["status", "expected_nodes"])
    return occurrence


# --- calendar token ---------------------------------------------------------------


def calendar_token_rotate(*, cluster: Cluster) -> str:
    """A new secret token for the cluster's calendar URL; the old URL stops working."""
    for _ in range(3):
        token = new_calendar_token()
        try:
            with transaction.atomic():
                Cluster.objects.filter(pk=cluster.pk).update(
                    calendar_token=token, updated_at=timezone.now()
                )
                audit.record(
                    action="calendar_token.rotate",
                    obj=cluster,
                    after={"calendar_token": "changed"},
                )
        except IntegrityError:
            continue
        cluster.calendar_token = token
        return token
    raise RuntimeError("could not generate a unique calendar token")
