"""Maintenance pages (the calendar feeds are in feed_views)."""

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.roles import (
    OPERATOR,
    operator_required,
    viewer_required,
)
from clusters import selectors as cluster_selectors
from clusters.models import Cluster

from . import (
    calendar_grid,
    checklists,
    freezes,
    planner,
    recurrence,
    selectors,
    window_form,
)
from .models import Backup, ChecklistRun, Occurrence, RunStep
from .services import backups as backup_services
from .services import checklists as checklist_services
from .services import windows as window_services


def _chosen_cluster(request, value: str) -> Cluster | None:
    """The cluster a form's select named by primary key, among those the user operates; None
    when there is none (another team's cluster is as unknown as a missing one)."""
    mine = cluster_selectors.visible_clusters(request.user, OPERATOR)
    return mine.filter(pk=value).first() if value.isdigit() else None


def _visible(request):
    """The clusters the user may see (clusters.selectors.visible_clusters)."""
    return cluster_selectors.visible_clusters(request.user)


def _day(value: str, default: date) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return default


@viewer_required
def overview(request):
    """Week or month calendar of occurrences across clusters, with the new-window form."""
    return _overview(request)


def _overview(request, *, form: dict | None = None, errors: list[str] = (), status: int = 200):
    """The calendar page; FORM (the new-window fields as sent) and ERRORS after a bad POST."""
    zone = timezone.get_current_timezone()
    now = timezone.now()
    today = timezone.localdate(now)
    view = "week" if request.GET.get("view") == "week" else "month"
    anchor = _day(request.GET.get("date", ""), today)
    if view == "week":
        start, end = calendar_grid.week_bounds(anchor)
        previous, following = anchor - timedelta(days=7), anchor + timedelta(days=7)
        month = None
    else:
        start, end = calendar_grid.month_bounds(anchor.year, anchor.month)
        first = anchor.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        month = anchor.month
    since, until = calendar_grid.utc_range(start, end, zone)
    occurrences = selectors.occurrences_in_range(
        since=since, until=until, clusters=_visible(request)
    )
    weeks = calendar_grid.grid(
        occurrences, start=start, end=end, zone=zone, today=today, month=month
    )
    notes = freezes.skipped_notes(
        first_day=start, last_day=end - timedelta(days=1), clusters=_visible(request)
    )
    calendar_grid.add_notes(weeks, notes)
    return render(
        request,
        "maintenance/overview.html",
        {
            "weeks": weeks,
            "view": view,
            "anchor": anchor,
            "previous": previous,
            "following": following,
            "today": today,
            "clusters": cluster_selectors.visible_clusters(request.user, OPERATOR)
            .order_by("name")
            .only("id", "name"),
            "weekdays": window_form.WEEKDAYS,
            "kinds": recurrence.KINDS,
            "ordinals": window_form.ORDINALS,
            "zone_name": str(zone),
            "form": form or window_form.defaults(str(zone)),
            "windows": selectors.windows_listed(clusters=_visible(request)),
            "now": now,
            "form_errors": list(errors),
        },
        status=status,
    )


@operator_required
@require_POST
def window_create(request):
    """Create a weekly window; its occurrences appear in the calendar."""
    sent = window_form.sent_from(request.POST)
    cluster = _chosen_cluster(request, sent["cluster"])
    if cluster is None:
        return _overview(request, form=sent, errors=["Choose a cluster."], status=400)
    try:
        start_time, duration = window_form.times(sent)
        window = window_services.window_create(
            cluster=cluster,
            start_time=start_time,
            duration_minutes=duration,
            tz=sent["tz"].strip(),
            name=sent["name"].strip(),
            now=timezone.now(),
            **window_form.schedule(sent),
        )
    except ValidationError as exc:
        return _overview(request, form=sent, errors=exc.messages, status=400)
    warning = window.duration_warning
    messages.success(request, f"Window {window.name} created for {cluster.name}.")
    if warning:
        messages.warning(request, warning)
    return redirect("maintenance:overview")


@viewer_required
def occurrence(request, pk: int):
    """One occurrence: the rolling reboot plan, per-node verification, manual confirmation."""
    occ = cluster_selectors.object_for(
        request.user,
        Occurrence.objects.select_related("window__cluster"),
        cluster_field="window__cluster",
        pk=pk,
    )
    cluster = occ.window.cluster
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    plan = planner.plan(snapshot) if snapshot is not None else None
    verifications = list(selectors.occurrence_verifications(occurrence=occ))
    verified = {v.node_id for v in verifications}
    expected = occ.expected_nodes or (
        {n.id: n.hostname for n in snapshot.nodes} if snapshot is not None else {}
    )
    pending = [(node_id, name) for node_id, name in expected.items() if node_id not in verified]
    return render(
        request,
        "maintenance/occurrence.html",
        {
            "occ": occ,
            "cluster": cluster,
            "plan": plan,
            "verifications": verifications,
            "pending": pending,
            "started": occ.start <= timezone.now(),
            "can_operate": cluster_selectors.may(request.user, cluster, OPERATOR),
        },
    )


@viewer_required
def occurrence_confirm(request, pk: int):
    """An operator confirms one node's reboot with a note."""
    occ = cluster_selectors.object_for(
        request.user,
        Occurrence.objects.select_related("window__cluster"),
        role=OPERATOR,
        cluster_field="window__cluster",
        pk=pk,
    )
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        window_services.occurrence_confirm_reboot(
            occurrence=occ,
            node_id=request.POST.get("node_id", ""),
            user=request.user,
            note=request.POST.get("note", ""),
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Reboot confirmed.")
    return redirect("maintenance:occurrence", pk=occ.pk)


@viewer_required
def backups(request):
    """Backup-restore tests with their due states and the record-validation form."""
    return _backups(request)


def _backups(request, *, failed: dict | None = None, status: int = 200):
    """The backups page; FAILED (backup pk, evidence and outcome as sent, errors) after a bad
    POST, shown again in that backup's row."""
    rows = selectors.all_backup_states(now=timezone.now(), clusters=_visible(request))
    tests = selectors.recent_validations(backup_ids=[backup.pk for backup, _ in rows])
    rows = [(backup, state, tests.get(backup.pk, [])) for backup, state in rows]
    return render(
        request,
        "maintenance/backups.html",
        {
            "rows": rows,
            "operable": set(
                cluster_selectors.visible_clusters(request.user, OPERATOR).values_list(
                    "pk", flat=True
                )
            ),
            "failed": failed or {},
        },
        status=status,
    )


@viewer_required
def backup_validate(request, pk: int):
    """Record a restore test of one backup."""
    backup = cluster_selectors.object_for(
        request.user, Backup.objects.select_related("cluster"), role=OPERATOR, pk=pk
    )
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        backup_services.backup_validate(
            backup=backup,
            evidence=request.POST.get("evidence", ""),
            passed=request.POST.get("outcome") != "failed",
            user=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        failed = {
            "pk": backup.pk,
            "evidence": request.POST.get("evidence", ""),
            "outcome": request.POST.get("outcome", ""),
            "errors": exc.messages,
        }
        return _backups(request, failed=failed, status=400)
    messages.success(request, f"Restore test of {backup.name} recorded.")
    return redirect("maintenance:backups")


@viewer_required
def checklist_list(request):
    """Checklist runs with their progress and overdue steps; operators start new ones."""
    return _checklist_list(request)


def _checklist_list(request, *, form: dict | None = None, errors=(), status: int = 200):
    """The checklists page; FORM (the start fields as sent) and ERRORS after a bad POST."""
    return render(
        request,
        "maintenance/checklists.html",
        {
            "runs": selectors.checklist_runs(now=timezone.now(), clusters=_visible(request)),
            "templates": checklists.TEMPLATES.values(),
            "clusters": cluster_selectors.visible_clusters(request.user, OPERATOR)
            .order_by("name")
            .only("id", "name"),
            "form": form or {"tz": str(timezone.get_current_timezone())},
            "form_errors": list(errors),
        },
        status=status,
    )


@operator_required
@require_POST
def checklist_start(request):
    """Start a checklist run; a bad entry shows the form again with what was entered."""
    sent = {
        name: request.POST.get(name, "")
        for name in ("template", "cluster", "target", "tz", "dns_hostname")
    }
    cluster = _chosen_cluster(request, sent["cluster"])
    if cluster is None:
        return _checklist_list(request, form=sent, errors=["Choose a cluster."], status=400)
    try:
        target = datetime.fromisoformat(sent["target"])
    except ValueError:
        errors = ["Give the target as a date and time."]
        return _checklist_list(request, form=sent, errors=errors, status=400)
    try:
        run = checklist_services.checklist_start(
            cluster=cluster,
            template=sent["template"],
            target=target.replace(tzinfo=None),
            tz=sent["tz"].strip() or "UTC",
            now=timezone.now(),
            user=request.user,
            dns_hostname=sent["dns_hostname"].strip(),
        )
    except ValidationError as exc:
        return _checklist_list(request, form=sent, errors=exc.messages, status=400)
    return redirect("maintenance:checklist", pk=run.pk)


@viewer_required
def checklist(request, pk: int):
    """One checklist run: its steps with due and overdue flags, ticked by htmx."""
    run = cluster_selectors.object_for(
        request.user, ChecklistRun.objects.select_related("cluster"), pk=pk
    )
    return render(
        request,
        "maintenance/checklist.html",
        {
            "run": run,
            "can_operate": cluster_selectors.may(request.user, run.cluster, OPERATOR),
            "steps": selectors.checklist_run_steps(run=run),
            "now": timezone.now(),
            "run_zone": run.tz,
        },
    )


@viewer_required
@vary_on_headers("HX-Request")
def step_tick(request, pk: int):
    """Tick or untick one step; htmx gets the step's row back."""
    step = cluster_selectors.object_for(
        request.user,
        RunStep.objects.select_related("run__cluster"),
        role=OPERATOR,
        cluster_field="run__cluster",
        pk=pk,
    )
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    step = checklist_services.run_step_mark(
        step=step,
        done=request.POST.get("done") == "1",
        user=request.user,
        now=timezone.now(),
        note=request.POST.get("note", ""),
    )
    if request.htmx:
        return render(
            request,
            "maintenance/checklist.html#step",
            {"step": step, "now": timezone.now(), "run_zone": step.run.tz, "can_operate": True},
        )
    return redirect("maintenance:checklist", pk=step.run_id)
