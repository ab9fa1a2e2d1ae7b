"""The API's maintenance writes (operator, as the maintenance pages require): windows,
occurrences (cancel, confirm a reboot), backup-restore tests, checklists. Each calls the service
the page or `manage.py maintenance` calls; a service's ValidationError is the API's 422 and its
Conflict the API's 409."""

from datetime import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from ninja import Status

from accounts.roles import OPERATOR
from maintenance import restore_evidence
from maintenance import selectors as maintenance_selectors
from maintenance.models import Backup, Occurrence, RunStep, Window
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import occurrences as occurrence_services
from maintenance.services import windows as window_services

from . import access, inputs, schemas
from .app import WRITE_ERRORS, api
from .auth import needs, require
from .errors import ApiError, invalid
from .views import occurrence_out, run_detail, step_out, window_out

# --- windows ----------------------------------------------------------------------------------


def _local_time(text: str, field: str) -> time:
    """HH:MM (the pages' and the command line's start time)."""
    try:
        if len(text) != 5:
            raise ValueError
        return time.fromisoformat(text)
    except ValueError:
        raise ApiError(
            422, "validation_error", f"{field}: {text[:20]!r} is not a local time HH:MM."
        ) from None


def _window_written(window: Window) -> dict:
    return {**window_out(window), "schedule": window.schedule, "warning": window.duration_warning}


@api.post(
    "/clusters/{name}/windows",
    response={201: schemas.WindowWritten, **WRITE_ERRORS},
    url_name="window_create",
    auth=needs(OPERATOR),
)
def window_create(request, name: str, body: inputs.WindowIn):
    """Add a maintenance window (operator): exactly one of `weekdays`, `rrule` or `once`, as
    `manage.py maintenance window add` takes them. 409 if the cluster has a window so named."""
    require(request, OPERATOR)
    cluster = access.cluster_get(request, name)
    start = _local_time(body.start_time, "start_time")
    try:
        window = window_services.window_create(
            cluster=cluster, weekdays=body.weekdays, rrule=body.rrule, once=body.once,
            start_time=start, duration_minutes=body.duration_minutes, tz=body.tz.strip(),
            name=body.name.strip(), active_from=body.active_from,
            active_until=body.active_until, now=timezone.now(),
        )  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    return Status(201, _window_written(window))


@api.patch(
    "/windows/{window_id}",
    response={200: schemas.WindowWritten, **WRITE_ERRORS},
    url_name="window_update",
    auth=needs(OPERATOR),
)
def window_update(request, window_id: int, body: inputs.WindowPatch):
    """Change a window (operator); fields left out keep their values, `weekdays` or `rrule`
    replaces the rule. Only future occurrences are made again (cancelled days stay)."""
    require(request, OPERATOR)
    window = access.row_get(
        request, Window.objects.select_related("cluster"), window_id, what="window"
    )
    changes = {key: value for key, value in body.dict(exclude_unset=True).items()
               if value is not None}  # fmt: skip
    if "start_time" in changes:
        changes["start_time"] = _local_time(changes["start_time"], "start_time")
    for key in ("name", "tz"):
        if key in changes:
            changes[key] = changes[key].strip()
    try:
        window = window_services.window_update(window=window, now=timezone.now(), **changes)
    except ValidationError as exc:
        raise invalid(exc) from None
    return _window_written(window)


# --- occurrences ------------------------------------------------------------------------------


def _occurrence(request, occurrence_id: int) -> Occurrence:
    return access.row_get(
        request, Occurrence.objects.select_related("window__cluster"), occurrence_id,
        what="occurrence", cluster_path="window__cluster",
    )  # fmt: skip


@api.post(
    "/occurrences/{occurrence_id}/cancel",
    response={200: schemas.OccurrenceWritten, **WRITE_ERRORS},
    url_name="occurrence_cancel",
    auth=needs(OPERATOR),
)
def occurrence_cancel(request, occurrence_id: int, body: inputs.CancelIn):
    """Cancel an occurrence that has not started, with a reason (operator); its pending
    reminders go. 409 if it started or was cancelled before."""
    require(request, OPERATOR)
    occurrence = _occurrence(request, occurrence_id)
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise ApiError(
            409, "already_cancelled", f"Occurrence {occurrence.pk} was already cancelled."
        )
    try:
        occurrence = occurrence_services.occurrence_cancel(
            occurrence=occurrence, now=timezone.now(), reason=body.reason
        )
    except ValidationError as exc:
        raise invalid(exc) from None
    return {**occurrence_out(occurrence), "cancelled_reason": occurrence.cancelled_reason}


@api.post(
    "/occurrences/{occurrence_id}/reboots",
    response={201: schemas.VerificationOut, **WRITE_ERRORS},
    url_name="reboot_confirm",
    auth=needs(OPERATOR),
)
def reboot_confirm(request, occurrence_id: int, body: inputs.RebootIn):
    """Confirm that a node rebooted during a started occurrence, saying how it was checked
    (operator), as on the occurrence page."""
    principal = require(request, OPERATOR)
    occurrence = _occurrence(request, occurrence_id)
    try:
        verification = window_services.occurrence_confirm_reboot(
            occurrence=occurrence, node_id=body.node_id, user=principal.user, note=body.note,
            now=timezone.now(),
        )  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    return Status(201, {
        "id": verification.pk, "occurrence": occurrence.pk, "node_id": verification.node_id,
        "hostname": verification.hostname, "verified_at": verification.verified_at,
        "source": verification.source, "note": verification.note,
        "confirmed_by": (
            verification.confirmed_by.get_username() if verification.confirmed_by else None
        ),
        "occurrence_status": occurrence.status,
    })  # fmt: skip


# --- backup-restore tests ---------------------------------------------------------------------


@api.post(
    "/backups/{backup_id}/validations",
    response={201: schemas.ValidationOut, **WRITE_ERRORS},
    url_name="backup_validation",
    auth=needs(OPERATOR),
)
def backup_validation(request, backup_id: int, body: inputs.ValidationIn):
    """Record a restore test of a backup (operator): the output of restic, kopia or velero
    (`source` and `output`, parsed and checked as `manage.py maintenance backup record --from`
    does: output that does not parse records nothing), or a written `evidence` and `passed`."""
    principal = require(request, OPERATOR)
    backup = access.row_get(
        request, Backup.objects.select_related("cluster"), backup_id, what="backup"
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            if body.source is not None:
                if body.evidence or not body.output:
                    raise ApiError(
                        422, "validation_error",
                        "With source, send the tool's output (output), not evidence.",
                    )  # fmt: skip
                if body.max_age_hours is not None:
                    restore_evidence.backup_set_max_age(backup=backup, hours=body.max_age_hours)
                validation = restore_evidence.backup_record(
                    backup=backup, kind=body.source, texts=body.output, now=now,
                    user=principal.user,
                )  # fmt: skip
            else:
                if body.output or body.max_age_hours is not None:
                    raise ApiError(
                        422, "validation_error",
                        "output and max_age_hours go with source (restic-check, kopia-verify "
                        "or velero-restore).",
                    )  # fmt: skip
                validation = backup_services.backup_validate(
                    backup=backup, evidence=body.evidence, passed=body.passed, now=now,
                    user=principal.user,
                )  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    return Status(201, {
        "id": validation.pk, "backup": backup.pk, "outcome": validation.outcome,
        "evidence": validation.evidence, "source": validation.source,
        "validated_at": validation.validated_at, "validated_by": validation.validated_by_name,
        "snapshot_at": validation.snapshot_at, "snapshot_bytes": validation.snapshot_bytes,
        "duration_seconds": validation.duration_seconds,
    })  # fmt: skip


# --- checklists -------------------------------------------------------------------------------


@api.post(
    "/clusters/{name}/checklists",
    response={201: schemas.ChecklistRunDetail, **WRITE_ERRORS},
    url_name="checklist_start",
    auth=needs(OPERATOR),
)
def checklist_start(request, name: str, body: inputs.ChecklistIn):
    """Start a checklist run of a built-in template (operator); `target` without an offset is
    wall time in `tz`."""
    principal = require(request, OPERATOR)
    cluster = access.cluster_get(request, name)
    now = timezone.now()
    try:
        run = checklist_services.checklist_start(
            cluster=cluster, template=body.template, target=body.target, tz=body.tz.strip(),
            now=now, user=principal.user, dns_hostname=body.dns_hostname,
        )  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    return Status(201, run_detail(maintenance_selectors.checklist_runs(now=now).get(pk=run.pk)))


@api.patch(
    "/checklists/{run_id}/steps/{step_id}",
    response={200: schemas.StepOut, **WRITE_ERRORS},
    url_name="step_mark",
    auth=needs(OPERATOR),
)
def step_mark(request, run_id: int, step_id: int, body: inputs.StepIn):
    """Tick (done: true) or untick a checklist step, with an optional note (operator), as on
    the checklist page."""
    principal = require(request, OPERATOR)
    step = access.row_get(
        request, RunStep.objects.select_related("run__cluster").filter(run_id=run_id), step_id,
        what=f"step of checklist run {run_id}", cluster_path="run__cluster",
    )  # fmt: skip
    step = checklist_services.run_step_mark(
        step=step, done=body.done, user=principal.user, now=timezone.now(), note=body.note
    )
    return step_out(step)
