"""Start and end notices of maintenance windows (opt-in per cluster: Cluster.window_notices):
one message to the cluster's recipients and channels when an occurrence starts, one when it
ends carrying the verification result (which nodes were seen rebooting, which were not).

Exactly once per occurrence, kind and destination: the reminder rows' deduplication key
(kind, occurrence:<id>:started|ended, occurrence, recipient or channel) is unique, so
concurrent or repeated ticks insert each row once and the outbox sends it once."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q

from maintenance import occurrences as occ
from maintenance import selectors
from maintenance.models import Occurrence, Reminder
from maintenance.services.reminders import email_text, plan_text, reminder_enqueue
from maintenance.services.windows import REFRESH_AFTER_END

# The end notice waits for the cluster's first good poll after the end (reboots finished just
# before the end are recorded by it), at most this long.
END_NOTICE_WAIT = timedelta(minutes=15)
# Occurrences whose outcome is settled; the tick refreshes an occurrence before this runs.
ENDED = (Occurrence.Status.COMPLETED, Occurrence.Status.PARTIAL, Occurrence.Status.MISSED)


def _noticed(kind: str) -> Q:
    """Occurrences that have a row of KIND already (nothing to render again)."""
    return Q(pk__in=Reminder.objects.filter(kind=kind).values("occurrence_id"))


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(occ.zone(tz)).strftime("%Y-%m-%d %H:%M %Z")


def start_notices_enqueue(*, now: datetime) -> int:
    """A start notice for every open occurrence (started, not ended, not cancelled) of a
    cluster with notices on. A tick that comes late but inside the window still sends it; an
    occurrence that ended before any tick saw it open gets only its end notice."""
    created = 0
    started = (
        Occurrence.objects.filter(window__cluster__window_notices=True, start__lte=now, end__gt=now)
        .exclude(status=Occurrence.Status.CANCELLED)
        .exclude(_noticed(Reminder.Kind.WINDOW_STARTED))
        .select_related("window__cluster")
    )
    for occurrence in started:
        window = occurrence.window
        title, body = email_text(
            "window_started",
            {
                "cluster": window.cluster,
                "window": window,
                "occurrence": occurrence,
                "local_end": _local(occurrence.end, window.tz),
                "nodes": sorted(
                    hostname or node_id
                    for node_id, hostname in (occurrence.expected_nodes or {}).items()
                ),
                "plan": plan_text(window.cluster),
            },
        )
        created += reminder_enqueue(
            cluster=window.cluster,
            kind=Reminder.Kind.WINDOW_STARTED,
            subject_key=f"occurrence:{occurrence.pk}:started",
            title=title,
            body=body,
            due_at=occurrence.start,
            now=now,
            occurrence=occurrence,
        )
    return created


def end_notices_enqueue(*, now: datetime) -> int:
    """An end notice for every occurrence that ended within the last day with a settled
    outcome, once the cluster was polled after the end (or END_NOTICE_WAIT passed)."""
    created = 0
    ended = (
        Occurrence.objects.filter(
            window__cluster__window_notices=True,
            end__lte=now,
            end__gt=now - REFRESH_AFTER_END,
            status__in=ENDED,
        )
        .filter(
            Q(window__cluster__last_success_at__gte=F("end")) | Q(end__lte=now - END_NOTICE_WAIT)
        )
        .exclude(_noticed(Reminder.Kind.WINDOW_ENDED))
        .select_related("window__cluster")
    )
    for occurrence in ended:
        window = occurrence.window
        rebooted = [
            {
                "name": v.hostname or v.node_id,
                "at": _local(v.verified_at, window.tz),
                "how": "confirmed" if v.source == v.Source.CONFIRMED else "observed",
                "by": v.confirmed_by.get_username() if v.confirmed_by_id else "",
            }
            for v in selectors.occurrence_verifications(occurrence=occurrence)
        ]
        title, body = email_text(
            "window_ended",
            {
                "cluster": window.cluster,
                "window": window,
                "occurrence": occurrence,
                "local_end": _local(occurrence.end, window.tz),
                "rebooted": rebooted,
                "missing": selectors.unverified_nodes(occurrence),
            },
        )
        created += reminder_enqueue(
            cluster=window.cluster,
            kind=Reminder.Kind.WINDOW_ENDED,
            subject_key=f"occurrence:{occurrence.pk}:ended",
            title=title,
            body=body,
            due_at=occurrence.end,
            now=now,
            occurrence=occurrence,
        )
    return created
