"""Cancelling and restoring one coming occurrence, with a reason everyone sees (audited)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit import services as audit
from maintenance import freezes
from maintenance.models import Occurrence, Reminder
from watchkeeper.conflicts import Conflict


def occurrence_cancel(*, occurrence: Occurrence, now: datetime, reason: str = "") -> Occurrence:
    """Cancel a future occurrence with a reason everyone sees (its pending reminders go).
    The row is locked and read again, so an occurrence that started (or was replaced by
    window_update) meanwhile is refused, not cancelled."""
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = _future_locked(occurrence, now, "cancelled")
        if locked.status == Occurrence.Status.CANCELLED:
            raise Conflict("The occurrence is cancelled already.", code="already_cancelled")
        if not reason:
            raise ValidationError("Give the reason for the cancellation (everyone sees it).")
        locked.status = Occurrence.Status.CANCELLED
        locked.cancelled_reason = reason[:255]
        locked.save(update_fields=["status", "cancelled_reason"])
        locked.reminders.filter(status=Reminder.Status.PENDING).delete()
        audit.record(
            action="occurrence.cancel",
            obj=_audit_name(locked),
            object_type="occurrence",
            after=_occurrence_fields(locked),
        )
    occurrence.status, occurrence.cancelled_reason = locked.status, locked.cancelled_reason
    return locked


def occurrence_restore(*, occurrence: Occurrence, now: datetime, reason: str = "") -> Occurrence:
    """Schedule a cancelled future occurrence again (refused inside a freeze: delete or
    shorten the freeze instead). REASON goes to the audit log only."""
    with transaction.atomic():
        locked = _future_locked(occurrence, now, "restored")
        if locked.status != Occurrence.Status.CANCELLED:
            raise Conflict("Only a cancelled occurrence can be restored.", code="not_cancelled")
        frozen = freezes.frozen_days(
            cluster_id=locked.window.cluster_id,
            first_day=locked.local_date,
            last_day=locked.local_date,
        )
        if frozen:
            raise ValidationError(
                f"{locked.local_date} is inside a freeze; delete the freeze to restore it."
            )
        before = _occurrence_fields(locked)
        locked.status = Occurrence.Status.SCHEDULED
        locked.cancelled_reason = ""
        locked.save(update_fields=["status", "cancelled_reason"])
        after = {**_occurrence_fields(locked), "reason": (reason or "").strip()[:255]}
        audit.record(
            action="occurrence.restore",
            obj=_audit_name(locked),
            object_type="occurrence",
            before=before,
            after=after,
        )
    occurrence.status, occurrence.cancelled_reason = locked.status, locked.cancelled_reason
    return locked


def _future_locked(occurrence: Occurrence, now: datetime, verb: str) -> Occurrence:
    locked = (
        Occurrence.objects.select_for_update(of=("self",))
        .select_related("window")
        .filter(pk=occurrence.pk)
        .first()
    )
    if locked is None:
        raise Conflict("The occurrence no longer exists (its window was changed).", code="gone")
    if locked.start <= now:
        raise Conflict(f"Only an occurrence that has not started can be {verb}.", code="started")
    return locked


def _occurrence_fields(occurrence: Occurrence) -> dict:
    return {
        "window": occurrence.window.name,
        "cluster_id": occurrence.window.cluster_id,
        "local_start": occurrence.local_start,
        "status": occurrence.status,
        "cancelled_reason": occurrence.cancelled_reason,
    }


def _audit_name(occurrence: Occurrence) -> str:
    """What the audit log names: the window and the occurrence's local start, and its id."""
    return f"{occurrence.window.name} {occurrence.local_start} (occurrence {occurrence.pk})"
