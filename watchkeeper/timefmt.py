"""How instants are written in JSON and command output: ISO 8601 in UTC with a Z."""

from datetime import UTC, datetime


def iso_utc(value: datetime | None) -> str | None:
    """2026-11-22T10:00:00Z for an aware datetime (whole seconds, as the contracts show them);
    None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
