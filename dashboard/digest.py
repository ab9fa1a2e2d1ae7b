"""The weekly digest: one email per user per ISO week, at their local weekday and time
(Monday 08:00 by default, Profile.digest_*), unless they opted out: each cluster they may see
with its score and grade and the change over the week, new and resolved critical findings,
the coming week's windows, overdue backup tests and checklist steps.

Exactly once through the reminder rows: the key is (user, ISO week of the due day), so
concurrent or repeated runs queue one row and the outbox sends it once. A digest is queued
from its due time on, and for at most CATCH_UP after it (a scheduler that was down longer
skips that week rather than send last week's news late). Only users get it: an address-only
cluster recipient has no time zone, no visibility and no way to opt out."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from accounts import selectors as account_selectors
from clusters import selectors as cluster_selectors
from maintenance import occurrences as occ
from maintenance import selectors as maintenance_selectors
from maintenance.services import reminders
from readiness import selectors as readiness_selectors

WEEK = timedelta(days=7)
CATCH_UP = timedelta(hours=24)
DEFAULT_WEEKDAY, DEFAULT_TIME, DEFAULT_ZONE = 0, time(8, 0), "UTC"


def digest_slot(
    *, now: datetime, tz_name: str, weekday: int, at: time
) -> tuple[str, datetime] | None:
    """(ISO week "YYYY-Www", due instant) of the digest due at NOW for a user in TZ_NAME whose
    digest is on WEEKDAY (0 = Monday) AT local time, or None (not yet, or more than CATCH_UP
    late). A time in a spring-forward gap or a fall-back fold follows the window rules."""
    tz = occ.zone(tz_name)
    today = now.astimezone(tz).date()
    for day in (today, today - WEEK):  # just after a week boundary, last week's may be due
        year, week, _ = day.isocalendar()
        due = occ.resolve_local(date.fromisocalendar(year, week, weekday + 1), at, tz)
        if due <= now < due + CATCH_UP:
            return f"{year}-W{week:02d}", due
    return None


def _due_users(now: datetime) -> list[tuple]:
    """(user, zone, week, due) of every user whose digest is due and not queued yet."""
    due = []
    for user in account_selectors.digest_recipients():
        profile = getattr(user, "profile", None)
        if profile is not None and not profile.digest_enabled:
            continue
        zone = profile.time_zone if profile else DEFAULT_ZONE
        slot = digest_slot(
            now=now,
            tz_name=zone,
            weekday=profile.digest_weekday if profile else DEFAULT_WEEKDAY,
            at=profile.digest_time if profile else DEFAULT_TIME,
        )
        if slot is not None:
            due.append((user, zone, *slot))
    keys = [reminders.digest_key(user_id=user.pk, week=week) for user, _, week, _ in due]
    queued = reminders.digest_weeks_sent(keys=keys)
    return [
        entry
        for entry, key in zip(due, keys, strict=True)
        if key not in queued  # nothing to render again
    ]


def digests_enqueue(*, now: datetime) -> int:
    """Queue the weekly digest of every user due at NOW; returns how many were queued."""
    queued = 0
    for user, zone, week, due in _due_users(now):
        clusters = list(cluster_selectors.visible_clusters(user=user).order_by("name"))
        if not clusters:
            continue
        ids = [cluster.pk for cluster in clusters]
        changes = readiness_selectors.week_changes(cluster_ids=ids, now=now, since=now - WEEK)
        upkeep = maintenance_selectors.digest_upkeep(cluster_ids=ids, now=now, until=now + WEEK)
        title, body = reminders.email_text(
            "weekly_digest",
            {
                "user": user,
                "week": week,
                "zone": zone,
                "clusters": [(cluster, changes.get(cluster.pk)) for cluster in clusters],
                **upkeep,
            },
        )
        queued += reminders.digest_enqueue(
            user_id=user.pk,
            address=user.email,
            week=week,
            title=title,
            body=body,
            due_at=due,
            now=now,
        )
    return queued
