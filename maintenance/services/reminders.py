"""Reminder and notification rows: what to tell whom, queued once per recipient. The
scheduler's own reminders (upcoming and unverified windows, backup tests, checklist steps)
are written here too; the outbox sends them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from maintenance import backups as backup_rules
from maintenance import planner, selectors
from maintenance.models import Backup, Occurrence, Reminder, RunStep
from maintenance.services.windows import REFRESH_AFTER_END

UPCOMING_LEADS = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=1))
NOT_VERIFIED_AFTER = timedelta(minutes=30)
STEP_REPEAT = timedelta(days=1)


def message_id_for(dedup_key: str) -> str:
    """The stable Message-ID of a reminder, derived from its deduplication key."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()}@watchkeeper>"


def recipients_of(cluster: Cluster) -> list[str]:
    addresses = []
    for recipient in cluster.recipients.select_related("user"):
        address = (recipient.address or "").strip()
        if address and address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return addresses


def reminder_enqueue(
    *,
    cluster: Cluster,
    kind: str,
    subject_key: str,
    title: str,
    body: str,
    due_at: datetime,
    now: datetime,
    occurrence: Occurrence | None = None,
    also_to: tuple[str, ...] = (),
) -> int:
    """One row per recipient (and ALSO_TO address), deduplicated by (kind, subject, occurrence,
    recipient)."""
    return _reminders_enqueue(
        cluster=cluster,
        notifications=[Notification(kind, subject_key, title, body)],
        due_at=due_at,
        now=now,
        occurrence=occurrence,
        also_to=also_to,
    )


def _reminders_enqueue(
    *,
    cluster: Cluster,
    notifications: list[Notification],
    due_at: datetime,
    now: datetime,
    occurrence: Occurrence | None = None,
    also_to: tuple[str, ...] = (),
) -> int:
    """Rows for every notification and address in three statements, however many there are."""
    if not notifications:
        return 0
    addresses = list(recipients_of(cluster))
    known_addresses = {address.lower() for address in addresses}
    for extra in also_to:
        if extra and extra.lower() not in known_addresses:
            addresses.append(extra)
            known_addresses.add(extra.lower())
    rows = []
    for item in notifications:
        for address in addresses:
            key = (
                f"{item.kind}|{item.subject_key}|{occurrence.pk if occurrence else '-'}|"
                f"{address.lower()}"
            )
            rows.append(
                Reminder(
                    cluster=cluster,
                    kind=item.kind,
                    subject_key=item.subject_key,
                    occurrence=occurrence,
                    recipient=address,
                    title=item.title[:255],
                    body=item.body,
                    due_at=due_at,
                    next_attempt_at=due_at,
                    dedup_key=key,
                    message_id=message_id_for(key),
                    created_at=now,
                )
            )
    if not rows:
        return 0
    keys = [row.dedup_key for row in rows]
    known = set(Reminder.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
    fresh = [row for row in rows if row.dedup_key not in known]
    Reminder.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


@dataclass(frozen=True)
class Notification:
    """One thing to tell a cluster's recipients (see notification_enqueue for the kinds)."""

    kind: str
    subject_key: str
    title: str
    body: str


def notification_enqueue(
    *,
    cluster,
    kind: str,
    subject_key: str,
    title: str,
    body: str,
    now: datetime,
    also_to: tuple[str, ...] = (),
    in_window: bool | None = None,
) -> int:
    """Queue a notification for every recipient of CLUSTER, deduplicated by (kind, subject_key).

    ALSO_TO adds addresses beyond the cluster's recipients (a waiver's owner, for example).

    Kinds used by other apps: "critical_finding", "grade_drop", "waiver_expired", "node_down".
    A node going down inside a maintenance window is expected and not notified. IN_WINDOW is
    the caller's answer to "is NOW inside a window?" when it has one
    (OperationsFacts.in_window_now); without it maintenance.selectors.in_window() is asked.
    Returns how many reminder rows were created.
    """
    return notifications_enqueue(
        cluster=cluster,
        notifications=[Notification(kind, subject_key, title, body)],
        now=now,
        also_to=also_to,
        in_window=in_window,
    )


def notifications_enqueue(
    *,
    cluster,
    notifications: Iterable[Notification],
    now: datetime,
    also_to: tuple[str, ...] = (),
    in_window: bool | None = None,
) -> int:
    """notification_enqueue for many notifications at once (an evaluation's new critical
    findings): a constant number of statements, however many there are."""
    notifications = list(notifications)
    for item in notifications:
        if item.kind not in Reminder.Kind.values:
            raise ValueError(f"unknown notification kind {item.kind!r}")
    if any(item.kind == Reminder.Kind.NODE_DOWN for item in notifications):
        if in_window is None:
            in_window = selectors.in_window(cluster=cluster, now=now)
        if in_window:
            notifications = [item for item in notifications if item.kind != Reminder.Kind.NODE_DOWN]
    return _reminders_enqueue(
        cluster=cluster, notifications=notifications, due_at=now, now=now, also_to=also_to
    )


def _plan_text(cluster: Cluster) -> str:
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is None:
        return "No snapshot of the cluster yet: no reboot plan."
    return planner.plan(snapshot).text()


def _time_left(left: timedelta) -> str:
    """'72 h', '40 h' or '20 min': the time really left when a reminder is written (a window
    scheduled less than 72 hours ahead gets its first reminder late)."""
    minutes = round(left.total_seconds() / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    return f"{round(minutes / 60)} h"


def occurrence_reminders_enqueue(*, now: datetime) -> int:
    created = 0
    soon = Occurrence.objects.filter(
        status=Occurrence.Status.SCHEDULED, start__gt=now, start__lte=now + UPCOMING_LEADS[0]
    ).select_related("window__cluster")
    for occurrence in soon:
        leads = [lead for lead in UPCOMING_LEADS if occurrence.start - lead <= now]
        lead = min(leads)
        hours = int(lead.total_seconds() // 3600)
        window = occurrence.window
        cluster = window.cluster
        created += reminder_enqueue(
            cluster=cluster,
            kind=Reminder.Kind.WINDOW_UPCOMING,
            subject_key=f"occurrence:{occurrence.pk}:upcoming:{hours}h",
            title=(
                f"[{cluster.name}] maintenance window {window.name} in "
                f"{_time_left(occurrence.start - now)}"
            ),
            body=(
                f"Maintenance window {window.name} on cluster {cluster.name} starts at "
                f"{occurrence.local_start} ({occurrence.start:%Y-%m-%d %H:%M} UTC) and lasts "
                f"{window.duration_minutes} minutes.\n\nRolling reboot plan:\n"
                f"{_plan_text(cluster)}\n"
            ),
            due_at=occurrence.start - lead,
            now=now,
            occurrence=occurrence,
        )
    unverified = Occurrence.objects.filter(
        status__in=[Occurrence.Status.PARTIAL, Occurrence.Status.MISSED],
        end__lte=now - NOT_VERIFIED_AFTER,
        end__gt=now - REFRESH_AFTER_END,
    ).select_related("window__cluster")
    for occurrence in unverified:
        window = occurrence.window
        cluster = window.cluster
        missing = selectors.unverified_nodes(occurrence)
        listing = "\n".join(f"- {name}" for name in missing) or "- (no node list known)"
        created += reminder_enqueue(
            cluster=cluster,
            kind=Reminder.Kind.WINDOW_NOT_VERIFIED,
            subject_key=f"occurrence:{occurrence.pk}:not_verified",
            title=f"[{cluster.name}] reboots not verified in window {window.name}",
            body=(
                f"The maintenance window {window.name} ({occurrence.local_start}) ended "
                f"{occurrence.status}. Nodes not seen rebooting:\n{listing}\n\n"
                "Reboot them, or confirm a reboot with a note in Watchkeeper.\n"
            ),
            due_at=occurrence.end + NOT_VERIFIED_AFTER,
            now=now,
            occurrence=occurrence,
        )
    return created


def backup_reminders_enqueue(*, now: datetime) -> int:
    created = 0
    for backup in selectors.backups_with_last_passed(Backup.objects.select_related("cluster")):
        last = backup.last_passed
        slot = backup_rules.reminder_due(
            backup_id=backup.pk,
            last_passed=last,
            interval_days=backup.interval_days,
            registered_at=backup.created_at,
            now=now,
        )
        if slot is None:
            continue
        state = backup_rules.status(last_passed=last, interval_days=backup.interval_days, now=now)
        due = f"{state.due_at:%Y-%m-%d}" if state.due_at else "now (never validated)"
        what = "is due soon" if slot.kind == "backup_due_soon" else "is overdue"
        created += reminder_enqueue(
            cluster=backup.cluster,
            kind=slot.kind,
            subject_key=slot.subject_key,
            title=f"[{backup.cluster.name}] restore test of {backup.name} {what}",
            body=(
                f"The restore test of backup {backup.name} on cluster {backup.cluster.name} "
                f"{what} (due {due}; every {backup.interval_days} days).\n"
                f"Last passed test: {last:%Y-%m-%d} UTC.\n"
                if last
                else f"The backup {backup.name} on cluster {backup.cluster.name} has never "
                "had a validated restore test.\n"
            ),
            due_at=slot.due_at,
            now=now,
        )
    return created


def checklist_reminders_enqueue(*, now: datetime) -> int:
    created = 0
    overdue = RunStep.objects.filter(done=False, due_at__lte=now).select_related("run__cluster")
    for step in overdue:
        days = (now - step.due_at) // STEP_REPEAT
        run = step.run
        cluster = run.cluster
        created += reminder_enqueue(
            cluster=cluster,
            kind=Reminder.Kind.CHECKLIST_STEP_DUE,
            subject_key=f"step:{step.pk}:{days}",
            title=f"[{cluster.name}] {run.title}: {step.offset_label} {step.title}",
            body=(
                f"Checklist {run.title} for cluster {cluster.name} (target "
                f"{run.target_at:%Y-%m-%d %H:%M} UTC, {run.tz}).\n"
                f"Step {step.offset_label} was due {step.due_at:%Y-%m-%d %H:%M} UTC and is "
                f"not done:\n  {step.title}\n"
            ),
            due_at=step.due_at + days * STEP_REPEAT,
            now=now,
        )
    return created
