"""Backup-restore evidence read from the tools' own output. Pure code: text in, facts out.

Each parser takes the texts of one or more files (one tool run each) and returns Evidence:
whether the check or restore worked, its duration, the snapshot's time and size, and what
the tool reported. A text that is none of the expected outputs raises EvidenceError.

- restic-check: `restic check [--json]` (the text of restic before 0.17, or the JSON
  summary of later versions: {"message_type": "summary", "num_errors": 0, ...}) plus
  `restic snapshots --json` (the newest snapshot's time; its size from `summary` when the
  version writes one), optionally `restic stats --json` (total_size) and
  `restic restore --json` (the summary's seconds_elapsed).
- kopia-verify: the text of `kopia snapshot verify` plus `kopia snapshot list --json`
  (startTime, endTime, stats.totalSize of the newest snapshot).
- velero-restore: `velero restore get -o json` (a Restore or a list of them: phase, start
  and completion, errors, warnings, items), the backup's time from `velero backup get -o
  json` when given, else from a schedule backup's name (NAME-YYYYMMDDhhmmss).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

KINDS = ("restic-check", "kopia-verify", "velero-restore")
MAX_TEXT = 5_000_000


class EvidenceError(ValueError):
    """The file is not output of the named tool (or lacks what the check needs)."""


@dataclass
class Evidence:
    kind: str
    worked: bool
    summary: str
    snapshot_at: datetime | None = None
    snapshot_bytes: int | None = None
    duration_seconds: float | None = None
    problems: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def parse(kind: str, texts: list[str]) -> Evidence:
    """Evidence from the outputs of KIND; EvidenceError when they do not parse."""
    parsers = {
        "restic-check": restic_check,
        "kopia-verify": kopia_verify,
        "velero-restore": velero_restore,
    }
    if kind not in parsers:
        raise EvidenceError(f"Unknown evidence source {kind!r}; use {', '.join(KINDS)}.")
    if not texts or not any((t or "").strip() for t in texts):
        raise EvidenceError("The file is empty.")
    if any(len(t) > MAX_TEXT for t in texts):
        raise EvidenceError("The file is larger than 5 MB; give the tool's summary output.")
    return parsers[kind](texts)


def _instant(value: str, what: str) -> datetime:
    """An RFC 3339 time (nanoseconds allowed) as aware UTC."""
    text = (value or "").strip()
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise EvidenceError(f"{what} {text[:40]!r} is not an RFC 3339 time.")
    fraction = (match[2] or ".0")[:7]
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(match[1] + fraction + zone).astimezone(UTC)


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and isinstance(value := _json(line), dict):
            rows.append(value)
    return rows


# --- restic ---------------------------------------------------------------------------


def restic_check(texts: list[str]) -> Evidence:
    check: tuple[bool, str] | None = None
    snapshots: list[dict] | None = None
    stats_size = restore_seconds = None
    details: dict = {}
    for text in texts:
        whole = _json(text.strip())
        if isinstance(whole, list):
            if whole and not all(isinstance(s, dict) and "time" in s for s in whole):
                raise EvidenceError("A JSON list that is not `restic snapshots --json` output.")
            snapshots = whole
            continue
        if isinstance(whole, dict) and "total_size" in whole:
            stats_size = int(whole["total_size"])
            continue
        lines = _json_lines(text)
        summaries = [r for r in lines if r.get("message_type") == "summary"]
        for row in summaries:
            if "num_errors" in row:  # restic check --json, 0.17 and later
                errors = int(row["num_errors"])
                check = (errors == 0, f"restic check: {errors} error(s)")
                details["check"] = row
            elif "seconds_elapsed" in row:  # restic restore --json
                restore_seconds = float(row["seconds_elapsed"])
                details["restore"] = row
        if summaries:
            continue
        if "no errors were found" in text:
            check = (True, "restic check: no errors were found")
        elif re.search(r"^Fatal: repository contains errors|^error: |^Fatal: ", text, re.M):
            first = next(
                line for line in text.splitlines() if line.startswith(("Fatal:", "error:"))
            )
            check = (False, f"restic check: {first.strip()[:200]}")
        else:
            raise EvidenceError(
                "Not restic output: expected `restic check` (text or --json), "
                "`restic snapshots --json`, `restic stats --json` or `restic restore --json`."
            )
    if check is None:
        raise EvidenceError("No `restic check` result in the file(s).")
    if not snapshots:
        raise EvidenceError(
            "No snapshot in the file(s): add `restic snapshots --json latest` so the backup's "
            "age can be checked."
        )
    newest = max(snapshots, key=lambda s: _instant(s["time"], "snapshot time"))
    size = stats_size
    summary = newest.get("summary") or {}
    if size is None and "total_bytes_processed" in summary:
        size = int(summary["total_bytes_processed"])
    details["snapshot"] = {
        key: newest.get(key) for key in ("short_id", "id", "time", "hostname", "paths")
    }
    worked, text = check
    return Evidence(
        kind="restic-check",
        worked=worked,
        summary=f"{text}; snapshot {newest.get('short_id') or newest.get('id', '?')[:8]}",
        snapshot_at=_instant(newest["time"], "snapshot time"),
        snapshot_bytes=size,
        duration_seconds=restore_seconds,
        problems=[] if worked else [text],
        details=details,
    )


# --- kopia ----------------------------------------------------------------------------

_KOPIA_DONE = re.compile(r"(?:Finished (?:processing|verifying)|Processed) (\d+) objects", re.I)
_KOPIA_ERRORS = re.compile(r"encountered (\d+) errors", re.I)
_KOPIA_FAILED = re.compile(r"^(?:.*\s)?(?:failed on|ERROR)\b.*$", re.M)


def kopia_verify(texts: list[str]) -> Evidence:
    verified: int | None = None
    problems: list[str] = []
    snapshots: list[dict] | None = None
    for text in texts:
        whole = _json(text.strip())
        if isinstance(whole, list):
            if whole and not all(isinstance(s, dict) and "startTime" in s for s in whole):
                raise EvidenceError("A JSON list that is not `kopia snapshot list --json`.")
            snapshots = whole
            continue
        counts = [int(m) for m in _KOPIA_DONE.findall(text)]
        failures = _KOPIA_FAILED.findall(text)
        total = _KOPIA_ERRORS.search(text)
        if not counts and not failures and not total:
            raise EvidenceError(
                "Not `kopia snapshot verify` output (no 'Processed N objects' or "
                "'Finished processing N objects' line, no errors)."
            )
        verified = max(counts) if counts else (verified or 0)
        problems += [line.strip()[:200] for line in failures]
        if total and not failures:
            problems.append(f"encountered {total[1]} errors")
    if verified is None:
        raise EvidenceError("No `kopia snapshot verify` output in the file(s).")
    if not snapshots:
        raise EvidenceError(
            "No snapshot in the file(s): add `kopia snapshot list --json` so the backup's age "
            "can be checked."
        )
    newest = max(snapshots, key=lambda s: _instant(s["startTime"], "startTime"))
    stats = newest.get("stats") or {}
    size = int(stats["totalSize"]) if "totalSize" in stats else None
    worked = not problems
    summary = f"kopia snapshot verify: {verified} objects, {len(problems)} error(s)"
    return Evidence(
        kind="kopia-verify",
        worked=worked,
        summary=summary,
        snapshot_at=_instant(newest.get("endTime") or newest["startTime"], "endTime"),
        snapshot_bytes=size,
        problems=problems,
        details={"objects": verified, "snapshot": {"id": newest.get("id")}},
    )


# --- velero ---------------------------------------------------------------------------

_SCHEDULED = re.compile(r"-(\d{14})$")


def _objects(value) -> list[dict]:
    """Restores and Backups in a velero JSON answer (one object or a *List of them)."""
    if not isinstance(value, dict):
        return []
    if value.get("kind") in ("Restore", "Backup"):
        return [value]
    items = value.get("items")
    if not isinstance(items, list) or value.get("kind") not in ("RestoreList", "BackupList"):
        return []
    default = value["kind"].removesuffix("List")
    return [{"kind": default, **item} for item in items if isinstance(item, dict)]


def velero_restore(texts: list[str]) -> Evidence:
    restores: list[dict] = []
    backups: list[dict] = []
    for text in texts:
        found = _objects(_json(text.strip()))
        if not found:
            raise EvidenceError(
                "Not `velero restore get -o json` output (a Restore or a list of them)."
            )
        for item in found:
            (restores if item["kind"] == "Restore" else backups).append(item)
    if not restores:
        raise EvidenceError("No Restore in the file(s).")

    def finished(item: dict) -> datetime:
        status = item.get("status") or {}
        stamp = status.get("completionTimestamp") or (item.get("metadata") or {}).get(
            "creationTimestamp", ""
        )
        return _instant(stamp, "completionTimestamp")

    restore = max(restores, key=finished)
    status = restore.get("status") or {}
    phase = status.get("phase", "")
    if phase not in ("Completed", "PartiallyFailed", "Failed", "FailedValidation"):
        raise EvidenceError(f"The restore has not finished (phase {phase or 'unknown'}).")
    errors = int(status.get("errors") or 0)
    problems = [] if phase == "Completed" and errors == 0 else [f"phase {phase}, {errors} errors"]
    problems += [str(p)[:200] for p in status.get("validationErrors") or []]
    duration = None
    if status.get("startTimestamp") and status.get("completionTimestamp"):
        duration = (
            _instant(status["completionTimestamp"], "completionTimestamp")
            - _instant(status["startTimestamp"], "startTimestamp")
        ).total_seconds()
    backup_name = (restore.get("spec") or {}).get("backupName", "")
    snapshot_at = None
    for backup in backups:
        if (backup.get("metadata") or {}).get("name") == backup_name:
            stamp = (backup.get("status") or {}).get("startTimestamp") or ""
            snapshot_at = _instant(stamp, "backup startTimestamp")
    if snapshot_at is None and (match := _SCHEDULED.search(backup_name)):
        snapshot_at = datetime.strptime(match[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    if snapshot_at is None:
        raise EvidenceError(
            f"The backup {backup_name!r} has no time in its name: add "
            f"`velero backup get {backup_name or 'NAME'} -o json` so its age can be checked."
        )
    progress = status.get("progress") or {}
    return Evidence(
        kind="velero-restore",
        worked=not problems,
        summary=(
            f"velero restore {(restore.get('metadata') or {}).get('name', '?')} of "
            f"{backup_name}: {phase}, {errors} errors, {status.get('warnings') or 0} warnings"
        ),
        snapshot_at=snapshot_at,
        duration_seconds=duration,
        problems=problems,
        details={
            "restore": (restore.get("metadata") or {}).get("name"),
            "backup": backup_name,
            "items_restored": progress.get("itemsRestored"),
            "total_items": progress.get("totalItems"),
        },
    )
