"""What the calendar feeds show: a cluster's upcoming occurrences, open checklist steps and the
days maintenance is skipped (freezes, skip dates, months without a monthly window's day). The
per-cluster feed and the per-user feed (every cluster the user may see) are built from the
same sections, so they show the same things."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from . import freezes, ical, selectors

FEED_AHEAD = timedelta(weeks=8)


def cluster_section(*, cluster, now: datetime) -> ical.Section:
    """CLUSTER's part of a feed at NOW: the next FEED_AHEAD of it."""
    return ical.Section(
        cluster_name=cluster.name,
        occurrences=selectors.upcoming_occurrences(
            cluster=cluster, now=now, until=now + FEED_AHEAD, include_cancelled=True
        ),
        steps=selectors.open_checklist_steps(cluster=cluster, now=now, until=now + FEED_AHEAD),
        skipped=freezes.skipped_notes(
            first_day=timezone.localdate(now),
            last_day=timezone.localdate(now + FEED_AHEAD),
            cluster=cluster,
        ),
    )
