"""Writes of the maintenance app: windows, occurrences, verifications, backups, checklists,
reminders and the scheduler tick. Every function takes `now` from its caller."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import smtplib
import time as monotonic_time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clusters import selectors as cluster_selectors
from clusters.models import Cluster, new_calendar_token

from . import backups as backup_rules
from . import checklists, dnsprobe, dockerapi, planner
from . import occurrences as occ
from .models import (
    Backup,
    BackupValidation,
    ChecklistRun,
    NodeVerification,
    Occurrence,
    Reminder,
    RunStep,
    Window,
)

log = logging.getLogger(__name__)

HORIZON = timedelta(weeks=8)
UPCOMING_LEADS = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=1))
NOT_VERIFIED_AFTER = timedelta(minutes=30)
REFRESH_AFTER_END = timedelta(days=1)  # late observations still upgrade an occurrence
STEP_REPEAT = timedelta(days=1)
LEASE = timedelta(minutes=5)
BATCH = 20
SEND_BUDGET = timedelta(seconds=45)  # a tick runs every minute
MAX_ATTEMPTS = 8
PROBE_EVERY = timedelta(minutes=15)


# --- windows and occurrences ------------------------------------------------


def _check_window(*, weekdays: str, start_time: time, duration_minutes: int, tz: str) -> str:
    """Validate window fields; the canonical weekday list."""
    try:
        days = occ.parse_weekdays(weekdays)
        occ.check_duration(duration_minutes)
        occ.zone(tz)
    except occ.ScheduleError as exc:
        raise ValidationError(str(exc)) from None
    if not isinstance(start_time, time):
        raise ValidationError("The start must be a local time HH:MM.")
    return occ.format_weekdays(days)


@transaction.atomic
def window_create(
    *,
    cluster: Cluster,
    weekdays: str,
    start_time: time,
    duration_minutes: int,
    tz: str,
    now: datetime,
    name: str = "",
    active_from: date | None = None,
    active_until: date | None = None,
) -> Window:
    """A new weekly window; its occurrences for the coming weeks are materialised."""
    canonical = _check_window(
        weekdays=weekdays, start_time=start_time, duration_minutes=duration_minutes, tz=tz
    )
    name = (name or f"Weekly {canonical} {start_time:%H:%M}").strip()
    if cluster.maintenance_windows.filter(name=name).exists():
        raise ValidationError(f"Cluster {cluster.name} already has a window named {name!r}.")
    active_from = active_from or occ.local_today(now, tz)
    if active_until and active_until < active_from:
        raise ValidationError("active-until is before active-from.")
    window = Window(
        cluster=cluster,
        name=name,
        weekdays=canonical,
        start_time=start_time.replace(second=0, microsecond=0),
        duration_minutes=duration_minutes,
        tz=tz,
        active_from=active_from,
        active_until=active_until,
    )
    window.full_clean()
    window.save()
    occurrences_materialise(window=window, now=now)
    return window


@transaction.atomic
def window_update(*, window: Window, now: datetime, **changes) -> Window:
    """Change a window; only its future occurrences are re-materialised, past ones stay."""
    allowed = {
        "name",
        "weekdays",
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
    for key, value in changes.items():
        setattr(window, key, value)
    window.weekdays = _check_window(
        weekdays=window.weekdays,
        start_time=window.start_time,
        duration_minutes=window.duration_minutes,
        tz=window.tz,
    )
    if window.active_until and window.active_until < window.active_from:
        raise ValidationError("active-until is before active-from.")
    window.full_clean()
    window.save()
    future = window.occurrences.filter(start__gt=now)
    cancelled_days = set(
        future.filter(status=Occurrence.Status.CANCELLED).values_list("local_date", flat=True)
    )
    Reminder.objects.filter(occurrence__in=future, status=Reminder.Status.PENDING).delete()
    future.delete()
    occurrences_materialise(window=window, now=now, cancelled_days=cancelled_days)
    return window


def occurrences_materialise(
    *,
    window: Window,
    now: datetime,
    first_day: date | None = None,
    last_day: date | None = None,
    cancelled_days: set[date] | None = None,
) -> int:
    """Create the missing occurrences of WINDOW (default: from today to the horizon).

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
    for slot in window.slots(first_day, last_day):
        if slot.local_date in existing:
            continue
        if slot.end <= now:
            continue
        status = Occurrence.Status.SCHEDULED
        if cancelled_days and slot.local_date in cancelled_days:
            status = Occurrence.Status.CANCELLED
        rows.append(
            Occurrence(
                window=window,
                local_date=slot.local_date,
                start=slot.start,
                end=slot.end,
                local_start=slot.local_start.isoformat(),
                status=status,
            )
        )
    Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def occurrence_cancel(*, occurrence: Occurrence, now: datetime, reason: str = "") -> Occurrence:
    """Cancel a future occurrence (its pending reminders go too)."""
    if occurrence.start <= now:
        raise ValidationError("Only an occurrence that has not started can be cancelled.")
    with transaction.atomic():
        occurrence.status = Occurrence.Status.CANCELLED
        occurrence.cancelled_reason = reason[:255]
        occurrence.save(update_fields=["status", "cancelled_reason"])
        occurrence.reminders.filter(status=Reminder.Status.PENDING).delete()
    return occurrence


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


def unverified_nodes(occurrence: Occurrence) -> list[str]:
    """Hostnames (or ids) of the expected nodes not seen rebooting."""
    seen = set(occurrence.verifications.values_list("node_id", flat=True))
    return sorted(
        hostname or node_id
        for node_id, hostname in occurrence.expected_nodes.items()
        if node_id not in seen
    )


# --- drain assist -------------------------------------------------------------


def drain_assist_step(*, occurrence: Occurrence, now: datetime) -> str | None:
    """One step of drain assist: re-activate the node back ready, or drain the next one.

    Only inside the window, only for clusters that opted in, one node at a time, and never
    a reboot. Returns what was done, or None.
    """
    cluster = occurrence.window.cluster
    if not cluster.drain_assist or occurrence.status == Occurrence.Status.CANCELLED:
        return None
    if occurrence.start > now:
        return None
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is None:
        return None
    nodes = snapshot.node_by_id()
    with transaction.atomic():
        locked = Occurrence.objects.select_for_update().get(pk=occurrence.pk)
        state = dict(locked.drain_state or {})
        done = list(state.get("done", []))
        current = state.get("current")
        verified = set(locked.verifications.values_list("node_id", flat=True))
        action = None
        if current:
            node = nodes.get(current)
            back = node is not None and node.state == "ready"
            if back and (current in verified or now >= locked.end):
                dockerapi.set_node_availability(
                    cluster=cluster, node_id=current, availability="active"
                )
                done.append(current)
                action = f"activated {node.hostname}"
                current = None
        elif now < locked.end:
            plan = planner.plan(snapshot, skip=set(done) | verified)
            if plan.steps:
                step = plan.steps[0]
                dockerapi.set_node_availability(
                    cluster=cluster, node_id=step.node_id, availability="drain"
                )
                current = step.node_id
                action = f"drained {step.hostname}"
        if action:
            locked.drain_state = {"current": current, "done": done, "last": action}
            locked.save(update_fields=["drain_state"])
    return action


# --- backups --------------------------------------------------------------------


def backup_create(
    *,
    cluster: Cluster,
    name: str,
    now: datetime,
    interval_days: int = backup_rules.DEFAULT_INTERVAL,
    owner: str = "",
    validated_at: datetime | None = None,
    validated_by=None,
    kind: str = Backup.Kind.DATA,
) -> Backup:
    """Register a backup of KIND (application data or swarm raft state); VALIDATED_AT records
    an earlier passed restore test."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Name the backup (for example: orders database).")
    if kind not in Backup.Kind.values:
        raise ValidationError(
            f"Unknown backup kind {kind!r} (one of: {', '.join(Backup.Kind.values)})."
        )
    try:
        backup_rules.check_interval(interval_days)
    except backup_rules.BackupError as exc:
        raise ValidationError(str(exc)) from None
    if validated_at is not None and validated_at > now:
        raise ValidationError("The validation time is in the future.")
    with transaction.atomic():
        if cluster.backups.filter(name=name).exists():
            raise ValidationError(f"Cluster {cluster.name} already has a backup named {name!r}.")
        backup = Backup.objects.create(
            cluster=cluster,
            name=name,
            kind=kind,
            interval_days=interval_days,
            owner=owner,
            created_at=now,
        )
        if validated_at is not None:
            backup_validate(
                backup=backup,
                evidence="restore test recorded at registration",
                passed=True,
                now=now,
                validated_at=validated_at,
                user=validated_by,
            )
    return backup


def backup_validate(
    *,
    backup: Backup,
    evidence: str,
    passed: bool,
    now: datetime,
    user=None,
    by_name: str = "",
    validated_at: datetime | None = None,
) -> BackupValidation:
    """Record a restore test (who, when, evidence, outcome); pending reminders of it go."""
    evidence = (evidence or "").strip()
    if not evidence:
        raise ValidationError("Evidence is required: what was restored, where, and how checked.")
    validated_at = validated_at or now
    if validated_at > now:
        raise ValidationError("The validation time is in the future.")
    with transaction.atomic():
        validation = BackupValidation.objects.create(
            backup=backup,
            validated_at=validated_at,
            validated_by=user,
            validated_by_name=by_name or (user.get_username() if user else ""),
            evidence=evidence,
            outcome=BackupValidation.Outcome.PASSED if passed else BackupValidation.Outcome.FAILED,
            recorded_at=now,
        )
        if passed:
            Reminder.objects.filter(
                subject_key__startswith=f"backup:{backup.pk}:", status=Reminder.Status.PENDING
            ).delete()
    return validation


def backup_last_passed(backup: Backup) -> datetime | None:
    last = (
        backup.validations.filter(outcome=BackupValidation.Outcome.PASSED)
        .order_by("-validated_at")
        .values_list("validated_at", flat=True)
        .first()
    )
    return last


# --- checklists -----------------------------------------------------------------


# A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


@transaction.atomic
def checklist_start(
    *,
    cluster: Cluster,
    template: str,
    target: datetime,
    tz: str,
    now: datetime,
    user=None,
    dns_hostname: str = "",
) -> ChecklistRun:
    """Start a run of a built-in template; a naive TARGET is wall time in TZ. DNS_HOSTNAME
    (optional) is the name the switchover's DNS step checks."""
    spec = checklists.TEMPLATES.get(template)
    if spec is None:
        raise ValidationError(
            f"Unknown template {template!r}; use {' or '.join(checklists.TEMPLATES)}."
        )
    dns_hostname = dns_hostname.strip().rstrip(".").lower()
    if dns_hostname and not _HOSTNAME.fullmatch(dns_hostname):
        raise ValidationError(
            f"{dns_hostname[:80]!r} is not a DNS name (letters, digits and hyphens in "
            "dot-separated labels, like app.example.com)."
        )
    try:
        target_utc = occ.local_target(target, tz)
    except occ.ScheduleError as exc:
        raise ValidationError(str(exc)) from None
    run = ChecklistRun.objects.create(
        cluster=cluster,
        template=spec.key,
        title=spec.title,
        target_at=target_utc,
        tz=tz,
        started_by=user,
        created_at=now,
    )
    RunStep.objects.bulk_create(
        RunStep(
            run=run,
            position=position,
            key=step.key,
            title=step.title,
            detail=step.detail,
            offset_label=step.offset_label,
            owner=step.owner,
            due_at=occ.offset_from(target_utc, days=step.days, hours=step.hours, tz_name=tz),
            probe=step.probe,
            probe_target=dns_hostname if step.probe == "dns" else "",
        )
        for position, step in enumerate(spec.steps, start=1)
    )
    return run


def run_step_mark(*, step: RunStep, done: bool, user, now: datetime, note: str = "") -> RunStep:
    """Tick (or untick) a checklist step, with who, when and a note."""
    step.done = done
    step.done_by = user if done else None
    step.done_at = now if done else None
    if note:
        step.note = note.strip()
    step.save(update_fields=["done", "done_by", "done_at", "note"])
    if done:
        Reminder.objects.filter(
            subject_key__startswith=f"step:{step.pk}:", status=Reminder.Status.PENDING
        ).delete()
    return step


def run_step_set_probe_target(*, step: RunStep, hostname: str) -> RunStep:
    """Name the hostname the DNS step resolves."""
    if step.probe != "dns":
        raise ValidationError("This step has no DNS probe.")
    hostname = (hostname or "").strip().rstrip(".")
    if not hostname or len(hostname) > 253 or " " in hostname:
        raise ValidationError("Give a DNS hostname, for example app.example.org.")
    step.probe_target = hostname
    step.save(update_fields=["probe_target"])
    return step


def allowed_ingress_addresses(cluster: Cluster) -> set[str]:
    """Manager node addresses from the latest snapshot plus the configured ingress addresses."""
    allowed = dnsprobe.split_addresses(cluster.ingress_addresses)
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    if snapshot is not None:
        for node in snapshot.nodes:
            if node.is_manager:
                for addr in (node.addr, node.manager_addr or ""):
                    if addr:
                        allowed.add(dnsprobe.host_of(addr))
    return allowed


def run_step_probe(*, step: RunStep, now: datetime, timeout: float = 5.0) -> RunStep:
    """Run the step's probe now and record result, time, detail and warning."""
    if step.probe != "dns" or not step.probe_target:
        raise ValidationError("This step has no DNS hostname to probe.")
    cluster = step.run.cluster
    outcome = dnsprobe.probe(
        hostname=step.probe_target,
        allowed=allowed_ingress_addresses(cluster),
        server=cluster.dns_server,
        timeout=timeout,
    )
    step.probe_result = RunStep.ProbeResult.PASSED if outcome.passed else RunStep.ProbeResult.FAILED
    step.probe_at = now
    step.probe_detail = outcome.detail
    step.probe_warning = outcome.warning
    step.save(update_fields=["probe_result", "probe_at", "probe_detail", "probe_warning"])
    return step


# --- reminders ------------------------------------------------------------------


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
) -> int:
    """Queue a notification for every recipient of CLUSTER, deduplicated by (kind, subject_key).

    ALSO_TO adds addresses beyond the cluster's recipients (a waiver's owner, for example).

    Kinds used by other apps: "critical_finding", "grade_drop", "waiver_expired", "node_down".
    A node going down inside a maintenance window is expected and not notified.
    Returns how many reminder rows were created.
    """
    return notifications_enqueue(
        cluster=cluster,
        notifications=[Notification(kind, subject_key, title, body)],
        now=now,
        also_to=also_to,
    )


def notifications_enqueue(
    *,
    cluster,
    notifications: Iterable[Notification],
    now: datetime,
    also_to: tuple[str, ...] = (),
) -> int:
    """notification_enqueue for many notifications at once (an evaluation's new critical
    findings): a constant number of statements, however many there are."""
    notifications = list(notifications)
    for item in notifications:
        if item.kind not in Reminder.Kind.values:
            raise ValueError(f"unknown notification kind {item.kind!r}")
    if any(item.kind == Reminder.Kind.NODE_DOWN for item in notifications) and in_window(
        cluster=cluster, now=now
    ):
        notifications = [item for item in notifications if item.kind != Reminder.Kind.NODE_DOWN]
    return _reminders_enqueue(
        cluster=cluster, notifications=notifications, due_at=now, now=now, also_to=also_to
    )


def in_window(*, cluster: Cluster, now: datetime) -> bool:
    """Whether NOW falls inside a (not cancelled) occurrence of one of CLUSTER's windows."""
    return (
        Occurrence.objects.filter(window__cluster=cluster, start__lte=now, end__gt=now)
        .exclude(status=Occurrence.Status.CANCELLED)
        .exists()
    )


def _claimable(now: datetime) -> Q:
    return Q(status=Reminder.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Reminder.Status.SENDING, lease_until__lt=now
    )


def reminders_claim(
    *, now: datetime, token: str, limit: int = BATCH, lease: timedelta = LEASE
) -> list[int]:
    """Claim due reminders for TOKEN with a lease: a conditional UPDATE, SKIP LOCKED on PostgreSQL.

    Rows already claimed by a live lease are never taken; rows whose lease expired (the
    claimer died) are. Returns the ids this caller now holds.
    """
    with transaction.atomic():
        candidates = list(
            Reminder.objects.filter(_claimable(now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return []
        Reminder.objects.filter(_claimable(now), id__in=candidates).update(
            status=Reminder.Status.SENDING, lease_until=now + lease, claimed_by=token
        )
    return list(
        Reminder.objects.filter(
            id__in=candidates, claimed_by=token, status=Reminder.Status.SENDING
        ).values_list("id", flat=True)
    )


def _permanent(exc: Exception) -> bool:
    """An SMTP 5xx answer: retrying will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after the n-th failed attempt, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))


@dataclass
class SendResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def reminder_send(*, reminder: Reminder, token: str, now: datetime) -> str:
    """Send one claimed reminder; 'sent', 'retry', 'failed' or 'lost' (lease taken over)."""
    renewed = Reminder.objects.filter(
        pk=reminder.pk, claimed_by=token, status=Reminder.Status.SENDING
    ).update(lease_until=now + LEASE)
    if renewed != 1:
        return "lost"
    message = EmailMessage(
        subject=reminder.title,
        body=reminder.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.recipient],
        headers={"Message-ID": reminder.message_id, "X-Watchkeeper-Kind": reminder.kind},
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        attempts = reminder.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = _permanent(exc) or attempts >= MAX_ATTEMPTS
        changes = {
            "attempts": attempts,
            "last_error": error,
            "lease_until": None,
            "claimed_by": "",
        }
        if permanent:
            changes["status"] = Reminder.Status.FAILED
        else:
            changes["status"] = Reminder.Status.PENDING
            changes["next_attempt_at"] = now + backoff(attempts)
        Reminder.objects.filter(pk=reminder.pk, claimed_by=token).update(**changes)
        log.warning(
            "reminder %s to %s: %s (%s)",
            reminder.pk,
            reminder.recipient,
            error,
            "permanent" if permanent else "will retry",
        )
        return "failed" if permanent else "retry"
    Reminder.objects.filter(pk=reminder.pk, claimed_by=token).update(
        status=Reminder.Status.SENT,
        sent_at=now,
        lease_until=None,
        attempts=F("attempts") + 1,
        last_error="",
    )
    return "sent"


def reminders_send_due(
    *,
    now: datetime,
    limit: int = BATCH,
    token: str | None = None,
    after_claim=None,
    budget: timedelta = SEND_BUDGET,
) -> SendResult:
    """Claim due reminders in batches and send them, until none is left or BUDGET is spent.

    AFTER_CLAIM(ids) is called after each claim (logging, tests).
    """
    token = token or secrets.token_hex(16)
    result = SendResult()
    started = monotonic_time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=monotonic_time.monotonic() - started)

    while clock() - now < budget:
        ids = reminders_claim(now=clock(), token=token, limit=limit)
        if not ids:
            break
        result.claimed += len(ids)
        if after_claim is not None:
            after_claim(ids)
        for reminder in Reminder.objects.filter(id__in=ids).order_by("next_attempt_at", "id"):
            outcome = reminder_send(reminder=reminder, token=token, now=clock())
            if outcome == "sent":
                result.sent += 1
            elif outcome == "retry":
                result.retried += 1
            elif outcome == "failed":
                result.failed += 1
    return result


# --- reminders that the scheduler creates ---------------------------------------


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


def _occurrence_reminders(*, now: datetime) -> int:
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
        missing = unverified_nodes(occurrence)
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


def _backup_reminders(*, now: datetime) -> int:
    created = 0
    for backup in Backup.objects.select_related("cluster"):
        last = backup_last_passed(backup)
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


def _checklist_reminders(*, now: datetime) -> int:
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


def _checklist_probes(*, now: datetime) -> int:
    ran = 0
    steps = (
        RunStep.objects.filter(probe="dns", done=False, run__target_at__gt=now)
        .exclude(probe_target="")
        .filter(Q(probe_at__isnull=True) | Q(probe_at__lte=now - PROBE_EVERY))
        .select_related("run__cluster")
    )
    for step in steps:
        run_step_probe(step=step, now=now)
        ran += 1
    return ran


# --- the tick ---------------------------------------------------------------------


@dataclass
class TickResult:
    materialised: int = 0
    refreshed: int = 0
    drain_actions: list[str] = field(default_factory=list)
    probes: int = 0
    reminders_created: int = 0
    send: SendResult = field(default_factory=SendResult)

    def summary(self) -> str:
        return (
            f"materialised {self.materialised}, refreshed {self.refreshed}, "
            f"drain {len(self.drain_actions)}, probes {self.probes}, "
            f"reminders created {self.reminders_created}, claimed {self.send.claimed}, "
            f"sent {self.send.sent}, retrying {self.send.retried}, failed {self.send.failed}"
        )


def tick(*, now: datetime, after_claim=None) -> TickResult:
    """One pass of the scheduler: materialise, verify, drain assist, remind, send."""
    result = TickResult()
    for window in Window.objects.select_related("cluster"):
        result.materialised += occurrences_materialise(window=window, now=now)
    open_or_recent = (
        Occurrence.objects.filter(start__lte=now)
        .filter(
            Q(end__gt=now - REFRESH_AFTER_END)
            # ended while no tick ran (scheduler down): still give it an outcome
            | Q(status__in=[Occurrence.Status.SCHEDULED, Occurrence.Status.IN_PROGRESS])
        )
        .exclude(status__in=[Occurrence.Status.CANCELLED, Occurrence.Status.COMPLETED])
        .select_related("window__cluster")
    )
    for occurrence in open_or_recent:
        occurrence_refresh(occurrence=occurrence, now=now)
        result.refreshed += 1
        if occurrence.window.cluster.drain_assist:
            try:
                action = drain_assist_step(occurrence=occurrence, now=now)
            except Exception as exc:  # noqa: BLE001 - the Docker API fails many ways; recorded
                log.warning("drain assist for occurrence %s: %s", occurrence.pk, exc)
                occurrence.drain_state = {
                    **(occurrence.drain_state or {}),
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                }
                occurrence.save(update_fields=["drain_state"])
                action = None
            if action:
                result.drain_actions.append(action)
    result.probes = _checklist_probes(now=now)
    result.reminders_created = (
        _occurrence_reminders(now=now) + _backup_reminders(now=now) + _checklist_reminders(now=now)
    )
    result.send = reminders_send_due(now=now, after_claim=after_claim)
    return result


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
        except IntegrityError:
            continue
        cluster.calendar_token = token
        return token
    raise RuntimeError("could not generate a unique calendar token")
