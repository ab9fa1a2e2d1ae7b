"""Backup-restore test states and reminder dates. Pure code: `now` is passed in.

Due date = last passed validation + interval. A failed validation does not reset it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DUE_SOON = timedelta(days=14)
OVERDUE_REPEAT = timedelta(days=7)
MIN_INTERVAL = 30
MAX_INTERVAL = 90
DEFAULT_INTERVAL = 90


class BackupError(ValueError):
    pass


def check_interval(days: int) -> int:
    if not MIN_INTERVAL <= days <= MAX_INTERVAL:
        raise BackupError(
            f"Interval {days} days is out of range: test restores every "
            f"{MIN_INTERVAL} to {MAX_INTERVAL} days."
        )
    return days


@dataclass(frozen=True)
class BackupStatus:
    state: str  # ok | due_soon | overdue | never_validated
    due_at: datetime | None  # None when never validated


def status(*, last_passed: datetime | None, interval_days: int, now: datetime) -> BackupStatus:
    if last_passed is None:
        return BackupStatus("never_validated", None)
    due = last_passed + timedelta(days=interval_days)
    if now >= due:
        return BackupStatus("overdue", due)
    if now >= due - DUE_SOON:
        return BackupStatus("due_soon", due)
    return BackupStatus("ok", due)


@dataclass(frozen=True)
class ReminderSlot:
    kind: str  # backup_due_soon | backup_overdue
    subject_key: str
    due_at: datetime


def reminder_due(
    *,
    backup_id: int,
    last_passed: datetime | None,
    interval_days: int,
    registered_at: datetime,
    now: datetime,
) -> ReminderSlot | None:
    """The reminder that is due at NOW for this backup, if any.

    Due soon: 14 days before the due date. Overdue: on the due date, then weekly. A backup
    never validated is treated as overdue since its registration.
    """
    current = status(last_passed=last_passed, interval_days=interval_days, now=now)
    due = current.due_at if current.due_at is not None else registered_at
    stamp = f"{due:%Y%m%dT%H%M%SZ}"
    if current.state == "due_soon":
        return ReminderSlot("backup_due_soon", f"backup:{backup_id}:{stamp}:soon", due - DUE_SOON)
    if current.state in ("overdue", "never_validated") and now >= due:
        weeks = (now - due) // OVERDUE_REPEAT
        return ReminderSlot(
            "backup_overdue",
            f"backup:{backup_id}:{stamp}:overdue:{weeks}",
            due + weeks * OVERDUE_REPEAT,
        )
    return None
