"""Record a backup-restore test from a tool's output (restic, kopia, velero): the write.

The parsed facts (outcome, duration, snapshot time and size, what the tool said) are stored
on the validation. A snapshot older than the backup's maximum age fails the validation even
when the check or restore worked. Output that does not parse stores nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from . import evidence as parsers
from .models import Backup, BackupValidation
from .services import backups as backup_services


def _size(value: int | None) -> str:
    if value is None:
        return "size unknown"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


@transaction.atomic
def backup_record(
    *, backup: Backup, kind: str, texts: list[str], now: datetime, user=None, by_name: str = ""
) -> BackupValidation:
    """Parse the tool's output and record the restore test; ValidationError when it does not
    parse (nothing stored)."""
    try:
        facts = parsers.parse(kind, texts)
    except parsers.EvidenceError as exc:
        raise ValidationError(f"{kind}: {exc} Nothing was recorded.") from None
    problems = list(facts.problems)
    if facts.snapshot_at is not None:
        if facts.snapshot_at > now + timedelta(minutes=5):
            raise ValidationError(
                f"{kind}: the snapshot time {facts.snapshot_at:%Y-%m-%d %H:%M} UTC is in the "
                "future. Nothing was recorded."
            )
        age = now - facts.snapshot_at
        limit = timedelta(hours=backup.max_age_hours)
        if age > limit:
            problems.append(
                f"the snapshot is {age.total_seconds() / 3600:.0f} h old, more than the "
                f"{backup.max_age_hours} h this test allows"
            )
    passed = not problems
    lines = [
        f"{'PASSED' if passed else 'FAILED'} ({kind}): {facts.summary}",
        f"snapshot {facts.snapshot_at:%Y-%m-%d %H:%M:%S} UTC, {_size(facts.snapshot_bytes)}"
        if facts.snapshot_at
        else "snapshot time unknown",
    ]
    if facts.duration_seconds is not None:
        lines.append(f"duration {facts.duration_seconds:.1f} s")
    lines += [f"problem: {p}" for p in problems]
    validation = backup_services.backup_validate(
        backup=backup,
        evidence="\n".join(lines),
        passed=passed,
        now=now,
        user=user,
        by_name=by_name,
    )
    validation.source = kind
    validation.duration_seconds = facts.duration_seconds
    validation.snapshot_at = facts.snapshot_at
    validation.snapshot_bytes = facts.snapshot_bytes
    validation.details = {**facts.details, "problems": problems}
    validation.save(
        update_fields=["source", "duration_seconds", "snapshot_at", "snapshot_bytes", "details"]
    )
    return validation


def backup_set_max_age(*, backup: Backup, hours: int) -> Backup:
    """How old a snapshot a restore test of BACKUP may use (1 hour to 400 days)."""
    if not 1 <= hours <= 24 * 400:
        raise ValidationError(f"Maximum age {hours} h is out of range: use 1 to 9600 hours.")
    backup.max_age_hours = hours
    backup.save(update_fields=["max_age_hours"])
    return backup
