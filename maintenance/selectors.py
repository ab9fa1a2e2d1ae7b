"""Reads of the maintenance app, for its own pages and for other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import models
from django.db.models import Count, F, Max, Q
from django.db.models.functions import RowNumber

from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from readiness.facts import BackupFact, OperationsFacts, WindowFact

from . import backups as backup_rules
from . import dnsprobe
from . import occurrences as occ
from .models import (
    Backup,
    BackupValidation,
    Channel,
    ChecklistRun,
    NodeVerification,
    Occurrence,
    Reminder,
    RunStep,
    Window,
)

REBOOT_LOOKBACK = timedelta(days=60)


def backups_with_last_passed(backups=None):
    """BACKUPS (default: all) annotated with `last_passed`, the time of the latest passed
    restore test (None when never validated)."""
    rows = Backup.objects.all() if backups is None else backups
    return rows.annotate(
        last_passed=Max(
            "validations__validated_at",
            filter=Q(validations__outcome=BackupValidation.Outcome.PASSED),
        )
    )


def backup_states(*, cluster, now: datetime) -> list[tuple[Backup, backup_rules.BackupStatus]]:
    """Every backup of CLUSTER with its restore-test state at NOW."""
    backups = list(backups_with_last_passed(Backup.objects.filter(cluster=cluster)))
    return [
        (
            backup,
            backup_rules.status(
                last_passed=backup.last_passed, interval_days=backup.interval_days, now=now
            ),
        )
        for backup in backups
    ]


def last_reboots(*, cluster, now: datetime) -> dict[str, datetime]:
    """node id -> the latest verified reboot: observed by the poller or confirmed."""
    result: dict[str, datetime] = {}
    for reboot in cluster_selectors.node_reboots(
        cluster=cluster, since=now - REBOOT_LOOKBACK, until=now
    ):
        known = result.get(reboot.node_id)
        if reboot.ready_at <= now and (known is None or reboot.ready_at > known):
            result[reboot.node_id] = reboot.ready_at
    confirmed = (
        NodeVerification.objects.filter(occurrence__window__cluster=cluster, verified_at__lte=now)
        .values("node_id")
        .annotate(latest=Max("verified_at"))
    )
    for row in confirmed:
        if row["node_id"] not in result or row["latest"] > result[row["node_id"]]:
            result[row["node_id"]] = row["latest"]
    return result


def in_window(*, cluster, now: datetime) -> bool:
    """Whether NOW falls inside a (not cancelled) occurrence of one of CLUSTER's windows.

    The one definition of "inside a maintenance window"; operations_facts() carries its
    answer as `in_window_now`."""
    return (
        Occurrence.objects.filter(window__cluster=cluster, start__lte=now, end__gt=now)
        .exclude(status=Occurrence.Status.CANCELLED)
        .exists()
    )


def operations_facts(*, cluster, now: datetime) -> OperationsFacts:
    """Everything a poll needs from maintenance about CLUSTER at NOW, gathered once: its
    windows (active today or not), whether NOW is inside one, the last verified reboot of
    each node, its backups' restore-test states and how many recipients it has.

    The poll pipeline calls this once and hands the result to the readiness rules and to
    the node-down notification (notifications_enqueue(in_window=facts.in_window_now))."""
    windows = [
        WindowFact(
            name=window.name,
            duration_minutes=window.duration_minutes,
            active=window.is_active_on(occ.local_today(now, window.tz)),
        )
        for window in Window.objects.filter(cluster=cluster)
    ]
    backups = [
        BackupFact(
            name=backup.name,
            interval_days=backup.interval_days,
            last_passed_at=backup.last_passed,
            state=state.state,
            kind=backup.kind,
        )
        for backup, state in backup_states(cluster=cluster, now=now)
    ]
    recipients = sum(
        1 for recipient in cluster.recipients.select_related("user") if recipient.address
    )
    return OperationsFacts(
        windows=windows,
        in_window_now=in_window(cluster=cluster, now=now),
        last_reboot=last_reboots(cluster=cluster, now=now),
        backups=backups,
        recipients=recipients,
    )


def occurrences_between(*, cluster, first_day: date, last_day: date):
    """Occurrences of CLUSTER's windows whose local date lies in [first_day, last_day]."""
    return (
        Occurrence.objects.filter(
            window__cluster=cluster, local_date__gte=first_day, local_date__lte=last_day
        )
        .select_related("window")
        .order_by("start", "window__name")
    )


def upcoming_occurrences(
    *, cluster, now: datetime, until: datetime, include_cancelled: bool = False
):
    """CLUSTER's occurrences not ended at NOW and starting before UNTIL (the cancelled ones
    too with INCLUDE_CANCELLED: the calendar feed shows them, with their reason)."""
    rows = Occurrence.objects.filter(window__cluster=cluster, end__gt=now, start__lt=until)
    if not include_cancelled:
        rows = rows.exclude(status=Occurrence.Status.CANCELLED)
    return rows.select_related("window").order_by("start")


def windows_listed(*, cluster=None, clusters=None):
    """Windows for the calendar page's list, by cluster and name, with their cluster; with
    CLUSTER only its windows, with CLUSTERS (a queryset: the ones the user sees) only theirs."""
    rows = Window.objects.select_related("cluster").order_by("cluster__name", "name")
    if clusters is not None:
        rows = rows.filter(cluster__in=clusters)
    return rows.filter(cluster=cluster) if cluster is not None else rows


def window_occurrences(*, window, now: datetime, past: int = 20):
    """(the coming occurrences, the latest PAST ones) of WINDOW."""
    coming = window.occurrences.filter(end__gt=now).order_by("start")
    history = window.occurrences.filter(end__lte=now).order_by("-start")[:past]
    return list(coming), list(history)


def open_checklist_steps(*, cluster, now: datetime, until: datetime):
    return (
        RunStep.objects.filter(run__cluster=cluster, done=False, due_at__lt=until)
        .select_related("run")
        .order_by("due_at")
    )


def fleet_maintenance(*, clusters, now: datetime) -> dict[int, dict]:
    """Per cluster: next occurrence (30 days), overdue backup tests and checklist steps.

    CLUSTERS is a queryset, read as a subquery (no list of ids to send for a whole fleet);
    a cluster with none of the three is left out."""
    result: dict[int, dict] = {}

    def entry(pk: int) -> dict:
        return result.setdefault(pk, {"next": None, "overdue_backups": 0, "overdue_steps": 0})

    within = clusters.values("pk")
    upcoming = (
        Occurrence.objects.filter(
            window__cluster__in=within, end__gt=now, start__lt=now + timedelta(days=30)
        )
        .exclude(status=Occurrence.Status.CANCELLED)
        .select_related("window")
        .order_by("start")
    )
    for occurrence in upcoming:
        upkeep = entry(occurrence.window.cluster_id)
        if upkeep["next"] is None:
            upkeep["next"] = occurrence
    backups = backups_with_last_passed(Backup.objects.filter(cluster__in=within))
    for backup in backups:
        state = backup_rules.status(
            last_passed=backup.last_passed, interval_days=backup.interval_days, now=now
        ).state
        if state in ("overdue", "never_validated"):
            entry(backup.cluster_id)["overdue_backups"] += 1
    steps = (
        RunStep.objects.filter(run__cluster__in=within, done=False, due_at__lt=now)
        .values("run__cluster_id")
        .annotate(count=Count("id"))
    )
    for row in steps:
        entry(row["run__cluster_id"])["overdue_steps"] = row["count"]
    return result


# --- reads for the dashboard pages (added by the web issue) ---------------------------------


def occurrences_in_range(*, since: datetime, until: datetime, cluster=None, clusters=None):
    """Occurrences of every cluster (or one, or those of the CLUSTERS queryset: the ones the
    viewer may see) starting in [since, until), for the calendar."""
    rows = Occurrence.objects.filter(start__gte=since, start__lt=until)
    if clusters is not None:
        rows = rows.filter(window__cluster__in=clusters)
    if cluster is not None:
        rows = rows.filter(window__cluster=cluster)
    return rows.select_related("window__cluster").order_by("start", "window__name")


def all_backup_states(*, now: datetime, cluster=None, clusters=None):
    """(backup, BackupStatus) of every backup (of CLUSTERS when given), most urgent first, in
    one query."""
    rows = backups_with_last_passed(Backup.objects.select_related("cluster"))
    if clusters is not None:
        rows = rows.filter(cluster__in=clusters)
    if cluster is not None:
        rows = rows.filter(cluster=cluster)
    order = {"overdue": 0, "never_validated": 1, "due_soon": 2, "ok": 3}
    pairs = [
        (b, backup_rules.status(last_passed=b.last_passed, interval_days=b.interval_days, now=now))
        for b in rows
    ]
    pairs.sort(key=lambda p: (order[p[1].state], p[0].cluster.name, p[0].name))
    return pairs


def recent_validations(*, backup_ids, per: int = 3) -> dict[int, list[BackupValidation]]:
    """Backup id -> its latest PER restore tests, newest first (one query)."""
    result: dict[int, list[BackupValidation]] = {}
    rows = BackupValidation.objects.filter(backup_id__in=list(backup_ids)).select_related(
        "validated_by"
    )
    for row in rows.order_by("backup_id", "-validated_at", "-id"):
        kept = result.setdefault(row.backup_id, [])
        if len(kept) < per:
            kept.append(row)
    return result


def checklist_runs(*, now: datetime, cluster=None, clusters=None):
    """Checklist runs (of CLUSTERS when given), newest target first, with their open and
    overdue step counts."""
    rows = ChecklistRun.objects.select_related("cluster").annotate(
        steps_total=Count("steps"),
        steps_done=Count("steps", filter=Q(steps__done=True)),
        steps_overdue=Count("steps", filter=Q(steps__done=False, steps__due_at__lt=now)),
    )
    if cluster is not None:
        rows = rows.filter(cluster=cluster)
    if clusters is not None:
        rows = rows.filter(cluster__in=clusters)
    return rows.order_by("-target_at")


def unverified_nodes(occurrence: Occurrence) -> list[str]:
    """Hostnames (or ids) of OCCURRENCE's expected nodes not seen rebooting."""
    seen = set(occurrence.verifications.values_list("node_id", flat=True))
    return sorted(
        hostname or node_id
        for node_id, hostname in occurrence.expected_nodes.items()
        if node_id not in seen
    )


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


def checklist_run_steps(*, run):
    return run.steps.select_related("done_by").order_by("position")


def occurrence_verifications(*, occurrence):
    return occurrence.verifications.select_related("confirmed_by").order_by("verified_at")


def reminders_log(*, limit: int = 200, status: str = "", clusters=None):
    """The latest reminders (what went to whom, and failures), with their cluster and channel;
    with CLUSTERS, only theirs (no reminder without a cluster)."""
    rows = Reminder.objects.select_related("cluster", "channel")
    if clusters is not None:
        rows = rows.filter(cluster__in=clusters)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-due_at", "-id")[:limit]


def digest_upkeep(*, cluster_ids, now: datetime, until: datetime) -> dict:
    """For the weekly digest, of the clusters CLUSTER_IDS: occurrences starting in [NOW, UNTIL)
    (cancelled ones too, with their reason), backup tests overdue or never validated, and
    checklist steps past due and not done."""
    windows = list(
        Occurrence.objects.filter(
            window__cluster_id__in=cluster_ids, start__gte=now, start__lt=until
        )
        .select_related("window__cluster")
        .order_by("start", "window__name")
    )
    backups = [
        (backup, state)
        for backup, state in all_backup_states(now=now)
        if backup.cluster_id in set(cluster_ids) and state.state in ("overdue", "never_validated")
    ]
    steps = list(
        RunStep.objects.filter(run__cluster_id__in=cluster_ids, done=False, due_at__lt=now)
        .select_related("run__cluster")
        .order_by("due_at")
    )
    return {"windows": windows, "backups": backups, "steps": steps}


def notice_queued(*, cluster, kind: str, subject_key: str) -> bool:
    """Whether a notification of KIND about SUBJECT_KEY was queued for CLUSTER (any row)."""
    return Reminder.objects.filter(cluster=cluster, kind=kind, subject_key=subject_key).exists()


@dataclass(frozen=True)
class DeliveryTrouble:
    """Reminders that could not be delivered: failed for good, or being retried."""

    failed: int
    retrying: int
    last_error: str


def delivery_trouble() -> DeliveryTrouble | None:
    """Mail or channel delivery in trouble (None when every reminder went or is going out
    normally): permanently failed reminders, or pending ones that have failed before."""
    counts = Reminder.objects.aggregate(
        failed=Count("id", filter=Q(status=Reminder.Status.FAILED)),
        retrying=Count("id", filter=Q(status=Reminder.Status.PENDING, attempts__gt=0)),
    )
    if not counts["failed"] and not counts["retrying"]:
        return None
    last = (
        Reminder.objects.exclude(last_error="")
        .order_by("-next_attempt_at", "-id")
        .values_list("last_error", flat=True)
        .first()
    )
    return DeliveryTrouble(counts["failed"], counts["retrying"], last or "")


def channels_with_deliveries(*, last: int = 5) -> list[Channel]:
    """Every channel with `.deliveries`: its LAST latest rows (test messages included), newest
    first, in two queries however many channels there are."""
    channels = list(Channel.objects.select_related("cluster").order_by("name"))
    latest = (
        Reminder.objects.filter(channel__in=channels)
        .annotate(
            rank=models.Window(RowNumber(), partition_by=[F("channel_id")], order_by=F("id").desc())
        )
        .filter(rank__lte=last)
        .order_by("channel_id", "-id")
    )
    by_channel: dict[int, list[Reminder]] = {}
    for row in latest:
        by_channel.setdefault(row.channel_id, []).append(row)
    for channel in channels:
        channel.deliveries = by_channel.get(channel.pk, [])
    return channels
