"""What the calendar feeds show: a cluster's upcoming occurrences, open checklist steps and the
days maintenance is skipped (freezes, skip dates, months without a monthly window's day). The
per-cluster feed and the per-user feed (every cluster the user may see) are built from the
same sections, so they show the same things."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.utils import timezone

from . import freezes, ical, recurrence, selectors
from .models import Window

FEED_AHEAD = timedelta(weeks=8)


def skipped_notes(*, first_day: date, last_day: date, cluster=None) -> dict[date, list[str]]:
    """Local day -> why maintenance is skipped that day: freezes and skip dates, and months in
    which a monthly window's day does not exist (shown on that month's last day)."""
    notes: dict[date, list[str]] = defaultdict(list)
    for item in freezes.freezes_between(first_day=first_day, last_day=last_day, cluster=cluster):
        day = max(item.first_day, first_day)
        while day <= min(item.last_day, last_day):
            notes[day].append(f"Freeze: {item.name} ({item.scope}), no maintenance")
            day += timedelta(days=1)
    windows = Window.objects.filter(rrule__startswith="FREQ=MONTHLY").select_related("cluster")
    if cluster is not None:
        windows = windows.filter(cluster=cluster)
    for window in windows:
        for day, why in recurrence.skipped_months(
            window.rrule,
            active_from=window.active_from,
            active_until=window.active_until,
            first_day=first_day,
            last_day=last_day,
        ):
            notes[day].append(f"{window.cluster.name} · {window.name}: {why}")
    return dict(notes)


def cluster_section(*, cluster, now: datetime) -> ical.Section:
    """CLUSTER's part of a feed at NOW: the next FEED_AHEAD of it."""
    return ical.Section(
        cluster_name=cluster.name,
        occurrences=selectors.upcoming_occurrences(
            cluster=cluster, now=now, until=now + FEED_AHEAD
        ),
        steps=selectors.open_checklist_steps(cluster=cluster, now=now, until=now + FEED_AHEAD),
        skipped=skipped_notes(
            first_day=timezone.localdate(now),
            last_day=timezone.localdate(now + FEED_AHEAD),
            cluster=cluster,
        ),
    )
