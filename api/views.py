"""The REST API, /api/v1/: read endpoints (writes: api.cluster_writes, api.maintenance_writes).
Every read goes through the apps' selectors (the same ones the pages and the command line use);
clusters, and rows of a cluster, are looked up through api.access."""

import base64
import binascii
from datetime import date, datetime, timedelta
from typing import Annotated

from django.db import transaction
from django.utils import timezone
from ninja import Query

from accounts.roles import VIEWER, is_global_admin
from clusters import selectors as cluster_selectors
from dashboard import selectors as dashboard_selectors
from maintenance import selectors as maintenance_selectors
from maintenance.models import Reminder
from maintenance.services import windows as maintenance_services
from readiness import findings as readiness_findings
from readiness import report as readiness_report
from readiness import selectors as readiness_selectors
from watchkeeper.timefmt import iso_utc

from . import access, schemas
from .app import ERRORS, ERRORS_422, api
from .auth import require
from .errors import ApiError

HISTORY_DAYS_DEFAULT = 30
OCCURRENCE_RANGE_MAX_DAYS = 400  # as `manage.py maintenance occurrences`
PAGE_DEFAULT, PAGE_MAX = 100, 500


# --- clusters and readiness -------------------------------------------------------------------


@api.get("/clusters", response={200: list[schemas.ClusterOut], **ERRORS}, url_name="clusters")
def clusters(request):
    """Every cluster, exactly as `manage.py cluster list --format json` prints it."""
    require(request, VIEWER)
    return dashboard_selectors.cluster_summaries(clusters=access.clusters_for(request))


@api.get(
    "/clusters/{name}/report",
    response={200: schemas.ReportOut, **ERRORS},
    url_name="cluster_report",
)
def cluster_report(request, name: str, only_failed: bool = False):
    """The readiness report of the cluster's latest snapshot, exactly as
    `manage.py readiness report NAME --format json` prints it."""
    require(request, VIEWER)
    cluster = access.cluster_get(request, name)
    report = dashboard_selectors.cluster_report(cluster=cluster, now=timezone.now())
    if report is None:
        raise ApiError(404, "no_snapshot", f"{name} has no good poll yet; nothing to report.")
    return readiness_report.to_dict(report, only_failed=only_failed)


@api.get(
    "/clusters/{name}/evaluations",
    response={200: list[schemas.EvaluationOut], **ERRORS_422},
    url_name="cluster_evaluations",
)
def cluster_evaluations(request, name: str, since: datetime | None = None):
    """Score history: each stored evaluation since SINCE (default 30 days ago), oldest first."""
    require(request, VIEWER)
    cluster = access.cluster_get(request, name)
    if since is None:
        since = timezone.now() - timedelta(days=HISTORY_DAYS_DEFAULT)
    elif timezone.is_naive(since):
        raise ApiError(422, "validation_error", "since: give a time zone (…Z or +01:00).")
    return readiness_selectors.score_history(cluster=cluster, since=since)


def _cursor_decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        after = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        kind, after = "", -1
    if kind != "check" or after < 0:
        raise ApiError(422, "validation_error", "cursor: not a cursor this API gave out.")
    return after


def _cursor_encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"check:{last_id}".encode()).decode()


@api.get("/findings", response={200: schemas.FindingsPage, **ERRORS_422}, url_name="findings")
def findings(
    request,
    cluster: str = "",
    environment: str = "",
    severity: str = "",
    category: str = "",
    rule: str = "",
    q: str = "",
    show: str = "open",
    cursor: str | None = None,
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX),
):
    """Failing (show=open), waived or all checks of each cluster's latest evaluation, with the
    Findings page's filters; pages by `next_cursor` (stable order: check id)."""
    require(request, VIEWER)
    everyone = list(access.clusters_for(request).order_by("name").only("id", "name", "environment"))
    query = {
        "cluster": cluster, "environment": environment, "severity": severity,
        "category": category, "rule": rule, "q": q, "show": show,
    }  # fmt: skip
    filters, notes = readiness_findings.FindingsFilter.from_query(
        query, cluster_names=[c.name for c in everyone]
    )
    if notes:
        raise ApiError(422, "validation_error", " ".join(notes))
    after = _cursor_decode(cursor)
    checks, cluster_of = readiness_findings.finding_checks(filters=filters, clusters=everyone)
    rows = list(
        checks.filter(status__in=readiness_findings.FINDINGS_SHOW[filters.show], id__gt=after)
        .order_by("id")
        .values(
            "id", "evaluation_id", "rule", "category", "severity", "status", "object_type",
            "object_id", "object_name", "message", "remediation", "waiver_id",
        )[: limit + 1]
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": row["id"],
            "cluster": cluster_of[row["evaluation_id"]],
            "rule": row["rule"],
            "category": row["category"],
            "severity": row["severity"],
            "status": row["status"],
            "object": {
                "type": row["object_type"], "id": row["object_id"], "name": row["object_name"],
            },
            "message": row["message"],
            "remediation": row["remediation"],
            "waiver_id": row["waiver_id"],
        }
        for row in rows
    ]  # fmt: skip
    return {"items": items, "next_cursor": _cursor_encode(rows[-1]["id"]) if more else None}


@api.get(
    "/clusters/{name}/nodes", response={200: list[schemas.NodeOut], **ERRORS}, url_name="nodes"
)
def nodes(request, name: str):
    """The cluster's nodes as of its last good poll."""
    require(request, VIEWER)
    cluster = access.cluster_get(request, name)
    return [
        {
            **_fields(node, schemas.NodeOut),
            "id": node.swarm_id,
            "last_seen_at": node.seen_at(cluster),
        }
        for node in cluster_selectors.current_nodes(cluster=cluster)
    ]


@api.get(
    "/clusters/{name}/services",
    response={200: list[schemas.ServiceOut], **ERRORS},
    url_name="services",
)
def services(request, name: str):
    """The cluster's services as of its last good poll."""
    require(request, VIEWER)
    return [
        {**_fields(service, schemas.ServiceOut), "id": service.swarm_id}
        for service in cluster_selectors.current_services(cluster=access.cluster_get(request, name))
    ]


def _fields(row, schema) -> dict:
    return {name: getattr(row, name, None) for name in schema.model_fields if name != "id"}


# --- maintenance ------------------------------------------------------------------------------


@api.get(
    "/clusters/{name}/windows",
    response={200: list[schemas.WindowOut], **ERRORS},
    url_name="windows",
)
def windows(request, name: str):
    """The cluster's maintenance windows: RRULE, local start time and IANA zone."""
    require(request, VIEWER)
    return [
        window_out(window)
        for window in access.cluster_get(request, name).maintenance_windows.order_by("name")
    ]


def window_out(window) -> dict:
    return {
        **_fields(window, schemas.WindowOut),
        "id": window.pk,
        "start_time": window.start_time.strftime("%H:%M"),
    }


@api.get(
    "/clusters/{name}/occurrences",
    response={200: list[schemas.OccurrenceOut], **ERRORS_422},
    url_name="occurrences",
)
def occurrences(
    request,
    name: str,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
):
    """Occurrences whose local date lies in [from, to], as
    `manage.py maintenance occurrences CLUSTER --from --to --format json` lists them."""
    require(request, VIEWER)
    cluster = access.cluster_get(request, name)
    if last < first:
        raise ApiError(422, "validation_error", "to: is before from.")
    if (last - first).days > OCCURRENCE_RANGE_MAX_DAYS:
        raise ApiError(
            422, "validation_error", f"Ask for at most {OCCURRENCE_RANGE_MAX_DAYS} days at a time."
        )
    now = timezone.now()
    with transaction.atomic():
        for window in cluster.maintenance_windows.all():
            maintenance_services.occurrences_materialise(
                window=window, now=now, first_day=first, last_day=last
            )
    return [
        occurrence_out(occurrence)
        for occurrence in maintenance_selectors.occurrences_between(
            cluster=cluster, first_day=first, last_day=last
        )
    ]


def occurrence_out(occurrence) -> dict:
    return {
        "id": occurrence.pk,
        "window": occurrence.window.name,
        "start": iso_utc(occurrence.start),
        "end": iso_utc(occurrence.end),
        "local_start": occurrence.local_start,
        "status": occurrence.status,
    }


@api.get(
    "/clusters/{name}/backups",
    response={200: list[schemas.BackupOut], **ERRORS},
    url_name="backups",
)
def backups(request, name: str):
    """The cluster's registered backups with their restore-test state, most urgent first."""
    require(request, VIEWER)
    pairs = maintenance_selectors.all_backup_states(
        now=timezone.now(), cluster=access.cluster_get(request, name)
    )
    return [
        {
            "id": backup.pk,
            "cluster": backup.cluster.name,
            "name": backup.name,
            "interval_days": backup.interval_days,
            "owner": backup.owner,
            "last_passed_at": backup.last_passed,
            "due_at": state.due_at,
            "state": state.state,
        }
        for backup, state in pairs
    ]


def _run(run) -> dict:
    return {
        **_fields(run, schemas.ChecklistRunOut),
        "id": run.pk,
        "cluster": run.cluster.name,
    }


@api.get(
    "/clusters/{name}/checklists",
    response={200: list[schemas.ChecklistRunOut], **ERRORS},
    url_name="checklists",
)
def checklists(request, name: str):
    """The cluster's checklist runs, newest target first, with step counts."""
    require(request, VIEWER)
    runs = maintenance_selectors.checklist_runs(
        now=timezone.now(), cluster=access.cluster_get(request, name)
    )
    return [_run(run) for run in runs]


@api.get(
    "/checklists/{run_id}",
    response={200: schemas.ChecklistRunDetail, **ERRORS},
    url_name="checklist",
)
def checklist(request, run_id: int):
    """One checklist run with its steps."""
    require(request, VIEWER)
    run = access.row_get(
        request, maintenance_selectors.checklist_runs(now=timezone.now()), run_id,
        what="checklist run",
    )  # fmt: skip
    return run_detail(run)


def step_out(step) -> dict:
    return {
        **_fields(step, schemas.StepOut),
        "id": step.pk,
        "done_by": step.done_by.get_username() if step.done_by else None,
    }


def run_detail(run) -> dict:
    """A checklist run (from maintenance.selectors.checklist_runs) with its steps."""
    steps = [step_out(step) for step in maintenance_selectors.checklist_run_steps(run=run)]
    return {**_run(run), "steps": steps}


@api.get(
    "/reminders", response={200: list[schemas.ReminderOut], **ERRORS_422}, url_name="reminders"
)
def reminders(
    request,
    status: str = "",
    limit: int = Query(200, ge=1, le=PAGE_MAX),
):
    """The latest reminders (what went to whom, and failures), newest first."""
    require(request, VIEWER)
    if status and status not in Reminder.Status.values:
        raise ApiError(
            422, "validation_error",
            f"status: one of {', '.join(Reminder.Status.values)}.",
        )  # fmt: skip
    return [
        {**_fields(reminder, schemas.ReminderOut), "id": reminder.pk,
         "cluster": reminder.cluster.name if reminder.cluster else None,
         "channel": reminder.channel.name if reminder.channel_id else None}
        for reminder in maintenance_selectors.reminders_log(
            limit=limit, status=status, clusters=_reminder_scope(request)
        )
    ]  # fmt: skip


def _reminder_scope(request):
    """Every reminder for a global admin (those without a cluster too), else those of the
    clusters the caller may see."""
    return None if is_global_admin(request.auth.user) else access.clusters_for(request)
