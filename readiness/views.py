"""Readiness pages."""

from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import operator_required, viewer_required
from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from readiness import catalogue, selectors, services
from readiness.checks import SEVERITIES
from readiness.models import Waiver

FINDINGS_PER_RULE = 50  # check rows shown per rule
FINDINGS_LIMIT = 250  # check rows shown in all
REVOKE_NOTE_MAX = 500


@viewer_required
@vary_on_headers("HX-Request")
def findings(request):
    """Failing (or waived) checks of every cluster's latest evaluation, filtered, by rule."""
    clusters = list(Cluster.objects.order_by("name").only("id", "name", "environment"))
    filters, notes = selectors.FindingsFilter.from_query(
        request.GET, cluster_names=[c.name for c in clusters]
    )
    result = selectors.findings(
        filters=filters, clusters=clusters, per_rule=FINDINGS_PER_RULE, limit=FINDINGS_LIMIT
    )
    _link_clusters(result)
    partial = request.htmx and not request.htmx.history_restore_request
    template = "readiness/findings.html#results" if partial else "readiness/findings.html"
    show_all = request.GET.copy()
    show_all["show"] = "all"
    return render(
        request,
        template,
        {
            "result": result,
            "filters": filters,
            "notes": notes,
            "clusters": clusters,
            "environments": Cluster.Environment.values,
            "severities": SEVERITIES,
            "categories": catalogue.CATEGORIES,
            "rules": catalogue.all_rules(),
            "show_choices": [("open", "failing"), ("waived", "waived"), ("all", "both")],
            "show_all_query": show_all.urlencode(),
            "per_rule": FINDINGS_PER_RULE,
        },
    )


def _link_clusters(result: selectors.Findings) -> None:
    """Each shown cluster's page, reversed once per cluster rather than once per row."""
    urls: dict[str, str] = {}
    for group in result.groups:
        for item in (*group.clusters_named, *group.rows):
            if item.cluster not in urls:
                urls[item.cluster] = reverse("clusters:detail", args=[item.cluster])
            item.cluster_url = urls[item.cluster]


def _waivers_context(request, **extra) -> dict:
    include_inactive = (request.POST or request.GET).get("show") == "all"
    return {
        "waivers": selectors.waivers_page(now=timezone.now(), include_inactive=include_inactive),
        "include_inactive": include_inactive,
        "soon_days": selectors.EXPIRES_SOON_DAYS,
        "note_max": REVOKE_NOTE_MAX,
        **extra,
    }


@viewer_required
@vary_on_headers("HX-Request")
def waivers(request):
    """Active waivers with their expiry; on request the expired and revoked ones with trails."""
    partial = request.htmx and not request.htmx.history_restore_request
    template = "readiness/waivers.html#waiver-list" if partial else "readiness/waivers.html"
    return render(request, template, _waivers_context(request))


@operator_required
@require_POST
@vary_on_headers("HX-Request")
def waiver_revoke(request, pk: int):
    """Revoke a waiver and re-score its cluster at once; htmx gets the list back."""
    waiver = get_object_or_404(Waiver.objects.select_related("cluster"), pk=pk)
    note = request.POST.get("note", "").strip()
    if len(note) > REVOKE_NOTE_MAX:
        error = f"The note can be at most {REVOKE_NOTE_MAX} characters."
        context = _waivers_context(request, failed_pk=waiver.pk, error=error, note=note)
        if request.htmx:
            return render(request, "readiness/waivers.html#waiver-list", context, status=400)
        return render(request, "readiness/waivers.html", context, status=400)
    now = timezone.now()
    already = waiver.revoked_at is not None
    if not already:
        services.waiver_revoke(waiver=waiver, by=request.user, now=now, note=note)
        snapshot = cluster_selectors.latest_snapshot(cluster=waiver.cluster)
        if snapshot is not None:
            services.evaluation_run(cluster=waiver.cluster, snapshot=snapshot, now=now)
    what = f"{waiver.rule} on {waiver.cluster.name} ({waiver.selector or 'every object'})"
    flash = (
        f"The waiver of {what} was already revoked."
        if already
        else (f"Revoked the waiver of {what}; the cluster is re-scored.")
    )
    if request.htmx:
        return render(
            request, "readiness/waivers.html#waiver-list", _waivers_context(request, flash=flash)
        )
    messages.success(request, flash)
    target = reverse("readiness:waivers")
    if request.POST.get("show") == "all":
        target += "?show=all"
    return redirect(target)


@operator_required
def waiver_new(request):
    """The waive dialog (GET) and the waiver it creates (POST); the score is recomputed at once."""
    source = request.POST if request.method == "POST" else request.GET
    cluster = get_object_or_404(Cluster, name=source.get("cluster", ""))
    rule = source.get("rule", "")
    selector = source.get("object", "")
    now = timezone.now()
    default_expiry = (now + timedelta(days=30)).date().isoformat()
    context = {
        "cluster": cluster,
        "rule": rule,
        "selector": selector,
        "reason": source.get("reason", ""),
        "expires": source.get("expires", default_expiry),
        "max_expiry": (now + timedelta(days=180)).date().isoformat(),
        "errors": [],
    }
    if request.method == "POST":
        try:
            expires = datetime.combine(
                date.fromisoformat(context["expires"]), time(23, 59), tzinfo=UTC
            )
        except ValueError:
            context["errors"] = ["Give the expiry as a date (YYYY-MM-DD)."]
        else:
            try:
                services.waiver_create(
                    cluster=cluster, rule=rule, selector=selector, reason=context["reason"],
                    owner=request.user, expires_at=expires, created_by=request.user, now=now,
                )  # fmt: skip
            except ValidationError as exc:
                context["errors"] = exc.messages
            else:
                snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
                if snapshot is not None:
                    services.evaluation_run(cluster=cluster, snapshot=snapshot, now=now)
                messages.success(request, f"Waived {rule} on {selector or 'every object'}.")
                target = reverse("clusters:detail", args=[cluster.name])
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return redirect(target)
    template = "readiness/waiver_new.html#dialog" if request.htmx else "readiness/waiver_new.html"
    status = 400 if context["errors"] else 200
    return render(request, template, context, status=status)
