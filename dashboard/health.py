"""The `beat` line of /healthz (watchkeeper.health): the scheduler's last tick.

Beat schedules dashboard.tasks.enqueue_due_polls every 10 s; the worker running it writes the
`beat` heartbeat, so a fresh one says that beat, the broker and a worker all work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import DatabaseError
from django.utils import timezone

from watchkeeper.health import Status
from watchkeeper.timefmt import iso_utc

from .models import Heartbeat

BEAT = "beat"
BEAT_STALE = timedelta(minutes=2)  # twelve missed ticks


def heartbeat_record(*, name: str, now: datetime) -> None:
    """Record that NAME ran at NOW (one upsert)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": now})


def beat_status() -> Status:
    """ok with the last tick; down when it is older than BEAT_STALE; unknown before the first."""
    try:
        last = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
    except DatabaseError:
        return Status("unknown", "the database is down")
    if last is None:
        return Status("unknown", "no tick recorded yet")
    age = int((timezone.now() - last).total_seconds())
    detail = f"last tick {iso_utc(last)}, {age} s ago"
    return Status("down" if age > BEAT_STALE.total_seconds() else "ok", detail)
