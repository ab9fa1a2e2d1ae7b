"""Reminder and notification rows: what to tell whom, queued once per recipient. The
scheduler's own reminders (upcoming and unverified windows, backup tests, checklist steps)
are written here too; the outbox sends them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.template.loader import render_to_string

from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from maintenance import backups as backup_rules
from maintenance import planner, selectors
from maintenance.models import Backup, Channel, Occurrence, Reminder, RunStep
from maintenance.services.windows import REFRESH_AFTER_END

UPCOMING_LEADS = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=1))
NOT_VERIFIED_AFTER = timedelta(minutes=30)
STEP_REPEAT = timedelta(days=1)


def message_id_for(dedup_key: str) -> str:
    """The stable Message-ID of a reminder, derived from its deduplication key."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()}@watchkeeper>"


def recipients_of(cluster: Cluster) -> list[str]:
    addresses = []
    rows = list(cluster.recipients.select_related("user"))
    users = [recipient.user for recipient in rows if recipient.user is not None]
    allowed = cluster_selectors.users_who_see(cluster=cluster, users=users) if users else set()
    for recipient in rows:
        if recipient.user is not None and recipient.user.pk not in allowed:
            continue  # a user no longer in the cluster's team is told nothing about it
        address = (recipient.address or "").strip()
        if address and address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return addresses


def channels_of(cluster: Cluster | None) -> list[Channel]:
    """The enabled channels that carry CLUSTER's notifications: its own and those for all."""
    scope = Q(cluster__isnull=True) | Q(cluster=cluster) if cluster else Q(cluster__isnull=True)
    return list(Channel.objects.filter(scope, enabled=True))


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
    per_occurrence: bool = True,
) -> int:
    """One row per recipient (and ALSO_TO address) and one per channel of CLUSTER,
    deduplicated by (kind, subject, occurrence, recipient or channel); with PER_OCCURRENCE
    false the occurrence's id is left out of the key (the subject names what is unique)."""
    return _reminders_enqueue(
        cluster=cluster,
        notifications=[Notification(kind, subject_key, title, body)],
        due_at=due_at,
        now=now,
        occurrence=occurrence,
        also_to=also_to,
        per_occurrence=per_occurrence,
    )


def _reminders_enqueue(
    *,
    cluster: Cluster,
    notifications: list[Notification],
    due_at: datetime,
    now: datetime,
    occurrence: Occurrence | None = None,
    also_to: tuple[str, ...] = (),
    per_occurrence: bool = True,
) -> int:
    """Rows for every notification, address and channel in four statements, however many
    there are."""
    if not notifications:
        return 0
    channels = channels_of(cluster)
    addresses = list(recipients_of(cluster))
    known_addresses = {address.lower() for address in addresses}
    for extra in also_to:
        if extra and extra.lower() not in known_addresses:
            addresses.append(extra)
            known_addresses.add(extra.lower())
    destinations = [(address, None, address.lower()) for address in addresses]
    destinations += [("", channel, f"channel:{channel.pk}") for channel in channels]
    rows = []
    for item in notifications:
        for address, channel, to in destinations:
            scope = occurrence.pk if occurrence and per_occurrence else "-"
            key = f"{item.kind}|{item.subject_key}|{scope}|{to}"
            rows.append(
                Reminder(
                    cluster=cluster,
                    kind=item.kind,
                    subject_key=item.subject_key,
                    occurrence=occurrence,
                    recipient=address,
                    channel=channel,
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


# Outages a maintenance window explains: not notified inside one.
EXPECTED_IN_WINDOW = (Reminder.Kind.NODE_DOWN, Reminder.Kind.CLUSTER_UNREACHABLE)


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
    """Queue a notification for every recipient and every channel of CLUSTER (its own and
    those for all clusters), deduplicated by (kind, subject_key).

    ALSO_TO adds addresses beyond the cluster's recipients (a waiver's owner, for example).

    Kinds used by other apps: "critical_finding", "grade_drop", "waiver_expired", "node_down",
    "cluster_unreachable", "cluster_back". A node going down or the cluster becoming
    unreachable inside a maintenance window is expected and not notified. IN_WINDOW is
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
    kinds = set(Reminder.Kind.values)  # the property builds a new list each time it is read
    for item in notifications:
        if item.kind not in kinds:
            raise ValueError(f"unknown notification kind {item.kind!r}")
    if any(item.kind in EXPECTED_IN_WINDOW for item in notifications):
        if in_window is None:
            in_window = selectors.in_window(cluster=cluster, now=now)
        if in_window:
            notifications = [item for item in notifications if item.kind not in EXPECTED_IN_WINDOW]
    return _reminders_enqueue(
        cluster=cluster, notifications=notifications, due_at=now, now=now, also_to=also_to
    )


def email_text(name: str, context: dict) -> tuple[str, str]:
    """(subject, body) of the mail templates/maintenance/email/NAME.txt: its `subject` and
    `body` partials, plain text (each partial turns autoescape off)."""
    template = f"maintenance/email/{name}.txt"
    return (
        render_to_string(f"{template}#subject", context),
        render_to_string(f"{template}#body", context),
    )


def notice(kind: str, subject_key: str, context: dict) -> Notification:
    """A Notification of KIND whose words come from templates/maintenance/email/KIND.txt
    (critical_finding, grade_drop, waiver_expired, node_down, cluster_unreachable,
    cluster_back: see each template's context)."""
    title, body = email_text(kind, context)
    return Notification(kind, subject_key, title, body)


def plan_text(cluster: Cluster) -> str:
    """The rolling reboot plan of CLUSTER's latest snapshot, "" when there is none."""
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    return planner.plan(snapshot).text() if snapshot is not None else ""


def upcoming_key(occurrence: Occurrence, hours: int) -> str:
    """The subject of an upcoming-window reminder: the window and the exact start, not the
    occurrence's id, so an instant is never announced twice at the same lead, even after
    an edit moved the occurrence away and back (a new row)."""
    start = occurrence.start.astimezone(UTC)
    return f"window:{occurrence.window_id}:{start:%Y-%m-%dT%H:%MZ}:upcoming:{hours}h"


def occurrence_reminders_enqueue(*, now: datetime) -> int:
    """Reminders of windows starting within 72 hours (72, 24 and 1 hour before; a window
    scheduled late gets its first one with the time really left) and of windows that ended
    with nodes not seen rebooting."""
    created = 0
    soon = list(
        Occurrence.objects.filter(
            status=Occurrence.Status.SCHEDULED, start__gt=now, start__lte=now + UPCOMING_LEADS[0]
        ).select_related("window__cluster")
    )
    legacy = set(
        Reminder.objects.filter(
            kind=Reminder.Kind.WINDOW_UPCOMING, occurrence__in=[o.pk for o in soon]
        ).values_list("subject_key", flat=True)
    )
    for occurrence in soon:
        leads = [lead for lead in UPCOMING_LEADS if occurrence.start - lead <= now]
        lead = min(leads)
        hours = int(lead.total_seconds() // 3600)
        if f"occurrence:{occurrence.pk}:upcoming:{hours}h" in legacy:
            continue  # reminded under the key used before reminders were keyed by instant
        window = occurrence.window
        left = round((occurrence.start - now).total_seconds() / 60)
        title, body = email_text(
            "window_upcoming",
            {
                "cluster": window.cluster,
                "window": window,
                "occurrence": occurrence,
                "left_minutes": max(left, 1),
                "left_hours": round(left / 60),
                "plan": plan_text(window.cluster),
            },
        )
        created += reminder_enqueue(
            cluster=window.cluster,
            kind=Reminder.Kind.WINDOW_UPCOMING,
            subject_key=upcoming_key(occurrence, hours),
            title=title,
            body=body,
            due_at=occurrence.start - lead,
            now=now,
            occurrence=occurrence,
            per_occurrence=False,
        )
    unverified = Occurrence.objects.filter(
        status__in=[Occurrence.Status.PARTIAL, Occurrence.Status.MISSED],
        end__lte=now - NOT_VERIFIED_AFTER,
        end__gt=now - REFRESH_AFTER_END,
    ).select_related("window__cluster")
    for occurrence in unverified:
        window = occurrence.window
        title, body = email_text(
            "window_not_verified",
            {
                "cluster": window.cluster,
                "window": window,
                "occurrence": occurrence,
                "missing": selectors.unverified_nodes(occurrence),
            },
        )
        created += reminder_enqueue(
            cluster=window.cluster,
            kind=Reminder.Kind.WINDOW_NOT_VERIFIED,
            subject_key=f"occurrence:{occurrence.pk}:not_verified",
            title=title,
            body=body,
            due_at=occurrence.end + NOT_VERIFIED_AFTER,
            now=now,
            occurrence=occurrence,
        )
    return created


def backup_reminders_enqueue(*, now: datetime) -> int:
    """Reminders of restore tests due within 14 days, or overdue (weekly)."""
    created = 0
    for backup in selectors.backups_with_last_passed(Backup.objects.select_related("cluster")):
        slot = backup_rules.reminder_due(
            backup_id=backup.pk,
            last_passed=backup.last_passed,
            interval_days=backup.interval_days,
            registered_at=backup.created_at,
            now=now,
        )
        if slot is None:
            continue
        state = backup_rules.status(
            last_passed=backup.last_passed, interval_days=backup.interval_days, now=now
        )
        title, body = email_text(
            "backup_due",
            {
                "backup": backup,
                "soon": slot.kind == Reminder.Kind.BACKUP_DUE_SOON,
                "last_passed": backup.last_passed,
                "due_at": state.due_at,
            },
        )
        created += reminder_enqueue(
            cluster=backup.cluster,
            kind=slot.kind,
            subject_key=slot.subject_key,
            title=title,
            body=body,
            due_at=slot.due_at,
            now=now,
        )
    return created


def checklist_reminders_enqueue(*, now: datetime) -> int:
    """Reminders of checklist steps past their due time and not done (daily)."""
    created = 0
    overdue = RunStep.objects.filter(done=False, due_at__lte=now).select_related("run__cluster")
    for step in overdue:
        days = (now - step.due_at) // STEP_REPEAT
        title, body = email_text(
            "checklist_step_due", {"cluster": step.run.cluster, "run": step.run, "step": step}
        )
        created += reminder_enqueue(
            cluster=step.run.cluster,
            kind=Reminder.Kind.CHECKLIST_STEP_DUE,
            subject_key=f"step:{step.pk}:{days}",
            title=title,
            body=body,
            due_at=step.due_at + days * STEP_REPEAT,
            now=now,
        )
    return created


def digest_enqueue(
    *, user_id: int, address: str, week: str, title: str, body: str, due_at: datetime, now: datetime
) -> int:
    """One weekly digest email to ADDRESS (user USER_ID) for ISO WEEK ("2027-W13"): exactly
    once, the deduplication key being (user, week). Returns 1 when it was queued now (a
    concurrent tick may have won the insert), 0 when it was there already."""
    key = digest_key(user_id=user_id, week=week)
    row = Reminder(
        kind=Reminder.Kind.WEEKLY_DIGEST,
        subject_key=f"user:{user_id}:{week}",
        recipient=address,
        title=title[:255],
        body=body,
        due_at=due_at,
        next_attempt_at=due_at,
        dedup_key=key,
        message_id=message_id_for(key),
        created_at=now,
    )
    if Reminder.objects.filter(dedup_key=key).exists():
        return 0
    Reminder.objects.bulk_create([row], ignore_conflicts=True)  # a concurrent tick: one row
    return 1


def digest_key(*, user_id: int, week: str) -> str:
    return f"weekly_digest|user:{user_id}|{week}"


def digest_weeks_sent(*, keys: list[str]) -> set[str]:
    """Which of the digest KEYS have a row already."""
    return set(Reminder.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
