"""Reading the audit log: filters shared by the admin page, its CSV download and
`manage.py audit export`, and the export formats.

An exported event is `{at, actor, via, action, object_type, object, before, after}` (`at` in
ISO 8601 UTC; `actor` the user, or the command and OS user, with a token's prefix when one
was used). Secrets never reach the table (see services.record), so nothing is redacted here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEvent
from watchkeeper.csvcells import safe_row

FIELDS = ("at", "actor", "via", "action", "object_type", "object", "before", "after")
PAGE_SIZE = 100


class FilterError(ValueError):
    """A filter value that cannot be read (a date that is not ISO 8601)."""


def parse_since(value: str) -> datetime | None:
    """An ISO 8601 date or date-time (naive means UTC); None for empty; FilterError otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is None:
                raise ValueError
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        raise FilterError(
            f"{value!r} is not an ISO 8601 date or time (like 2026-12-01 or 2026-12-01T08:00:00Z)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    via: str = ""
    action: str = ""
    object_type: str = ""
    actor: str = ""
    text: str = ""

    @classmethod
    def from_query(cls, query) -> AuditFilter:
        """From a page's GET parameters; FilterError names a bad date."""
        via = query.get("via", "")
        return cls(
            since=parse_since(query.get("since", "")),
            until=parse_since(query.get("until", "")),
            via=via if via in dict(AuditEvent.VIA) else "",
            action=query.get("action", "").strip()[:100],
            object_type=query.get("object_type", "").strip()[:100],
            actor=query.get("actor", "").strip()[:200],
            text=query.get("q", "").strip()[:300],
        )

    def apply(self, events):
        if self.since:
            events = events.filter(at__gte=self.since)
        if self.until:
            events = events.filter(at__lt=self.until)
        if self.via:
            events = events.filter(via=self.via)
        if self.action:
            events = events.filter(action=self.action)
        if self.object_type:
            events = events.filter(object_type=self.object_type)
        if self.actor:
            events = events.filter(actor__icontains=self.actor)
        if self.text:
            events = events.filter(object__icontains=self.text)
        return events


def events(filters: AuditFilter = AuditFilter()):
    """The matching events, newest first."""
    return filters.apply(AuditEvent.objects.all()).order_by("-at", "-id")


def choices() -> dict[str, list[str]]:
    """The actions and object types that occur, for the page's selects."""
    return {
        "actions": sorted(
            AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        ),
        "object_types": sorted(
            AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()
        ),
    }


def actor_of(event: AuditEvent) -> str:
    """Who acted, as the export shows it: "ada", "ada (token wk_ab12)", "root (command
    cluster)"."""
    name = event.actor
    if event.token_prefix:
        name += f" (token {event.token_prefix})"
    elif event.command:
        name += f" (command {event.command})"
    return name


def as_dict(event: AuditEvent) -> dict:
    return {
        "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": actor_of(event),
        "via": event.via,
        "action": event.action,
        "object_type": event.object_type,
        "object": event.object,
        "before": event.before,
        "after": event.after,
    }


def _chunked(rows) -> Iterator[AuditEvent]:
    return rows.iterator(chunk_size=2000)


def csv_lines(rows: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV header then one line per event (before/after as JSON; cells a spreadsheet
    would run as a formula get a leading apostrophe)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(safe_row(values))
        return buffer.getvalue()

    yield line(FIELDS)
    for event in _chunked(rows) if hasattr(rows, "iterator") else rows:
        item = as_dict(event)
        item["before"] = json.dumps(item["before"], sort_keys=True) if item["before"] else ""
        item["after"] = json.dumps(item["after"], sort_keys=True) if item["after"] else ""
        yield line([item[key] for key in FIELDS])


def json_chunks(rows: Iterable[AuditEvent]) -> Iterator[str]:
    """A JSON list of events, streamed."""
    yield "["
    first = True
    for event in _chunked(rows) if hasattr(rows, "iterator") else rows:
        yield ("" if first else ",\n") + json.dumps(as_dict(event), sort_keys=True)
        first = False
    yield "]\n"
