"""The iCalendar (RFC 5545) feeds: upcoming occurrences, open checklist steps and skipped days of
one cluster (its feed) or of several (a user's feed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import icalendar

from . import occurrences as occ

PRODID = "-//Watchkeeper//Maintenance//EN"
STEP_LENGTH = timedelta(minutes=30)


@dataclass(frozen=True)
class Section:
    """One cluster's part of a feed: its occurrences, open checklist steps and skipped days
    (local day -> reasons)."""

    cluster_name: str
    occurrences: Iterable = ()
    steps: Iterable = ()
    skipped: dict = field(default_factory=dict)


def build(
    *,
    cluster_name: str,
    occurrences,
    steps,
    now: datetime,
    base_url: str = "",
    skipped: dict | None = None,
) -> bytes:
    """The cluster's feed as bytes (see calendar)."""
    return calendar(
        name=f"Watchkeeper maintenance: {cluster_name}",
        sections=[Section(cluster_name, occurrences, steps, skipped or {})],
        now=now,
        base_url=base_url,
    )


def calendar(*, name: str, sections: Iterable[Section], now: datetime, base_url: str = "") -> bytes:
    """A feed of one or more clusters' SECTIONS as bytes: events carry TZID local times, with a
    VTIMEZONE per zone used; a cancelled occurrence is STATUS:CANCELLED with its reason in the
    description. Skipped days become all-day, transparent 'No maintenance' events."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = now.astimezone(UTC)
    for section in sections:
        _add_section(cal, section, stamp=stamp, base_url=base_url)
    cal.add_missing_timezones()
    return cal.to_ical()


def _add_section(cal, section: Section, *, stamp: datetime, base_url: str) -> None:
    cluster_name = section.cluster_name
    for occurrence in section.occurrences:
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
    for step in section.steps:
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
    for day, reasons in sorted(section.skipped.items()):
        event = icalendar.Event()
        event.add("uid", f"skipped-{day:%Y%m%d}-{cluster_name}@watchkeeper")
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", f"No maintenance ({cluster_name}): skipped")
        event.add("description", "\n".join(reasons))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
