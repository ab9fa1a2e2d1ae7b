"""The per-cluster iCalendar (RFC 5545) feed: upcoming occurrences and open checklist steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from . import occurrences as occ

PRODID = "-//Watchkeeper//Maintenance//EN"
STEP_LENGTH = timedelta(minutes=30)


def build(
    *,
    cluster_name: str,
    occurrences,
    steps,
    now: datetime,
    base_url: str = "",
    skipped: dict | None = None,
) -> bytes:
    """The feed as bytes: events carry TZID local times, with a VTIMEZONE per zone used; a
    cancelled occurrence is STATUS:CANCELLED with its reason in the description.
    SKIPPED (local day -> reasons) become all-day, transparent 'No maintenance' events."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Watchkeeper maintenance: {cluster_name}")
    stamp = now.astimezone(UTC)
    for occurrence in occurrences:
        window = occurrence.window
        tz = occ.zone(window.tz)
        event = icalendar.Event()
        event.add("uid", f"occurrence-{occurrence.pk}@watchkeeper")
        event.add("dtstamp", stamp)
        event.add("dtstart", occurrence.start.astimezone(tz))
        event.add("dtend", occurrence.end.astimezone(tz))
        cancelled = occurrence.status == "cancelled"
        summary = f"Maintenance window: {window.name} ({cluster_name})"
        description = (
            f"Rolling reboot of {cluster_name}, {window.duration_minutes} minutes. "
            f"Status: {occurrence.status}."
        )
        if cancelled:
            summary = f"Cancelled: {summary}"
            description += f" Reason: {occurrence.cancelled_reason or 'none given'}."
        event.add("summary", summary)
        event.add("description", description)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        if base_url:
            event.add("url", f"{base_url}/maintenance/")
        cal.add_component(event)
    for step in steps:
        run = step.run
        tz = occ.zone(run.tz)
        event = icalendar.Event()
        event.add("uid", f"checklist-step-{step.pk}@watchkeeper")
        event.add("dtstamp", stamp)
        event.add("dtstart", step.due_at.astimezone(tz))
        event.add("dtend", (step.due_at + STEP_LENGTH).astimezone(tz))
        event.add("summary", f"{run.title} {step.offset_label}: {step.title}")
        event.add("description", f"Checklist {run.title} for {cluster_name}.")
        cal.add_component(event)
    for day, reasons in sorted((skipped or {}).items()):
        event = icalendar.Event()
        event.add("uid", f"skipped-{day:%Y%m%d}-{cluster_name}@watchkeeper")
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", f"No maintenance ({cluster_name}): skipped")
        event.add("description", "\n".join(reasons))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
