"""Readiness pages."""

import csv

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from accounts.roles import viewer_required
from clusters.models import Cluster
from readiness import catalogue, selectors
from readiness import findings as findings_selectors
from readiness.checks import SEVERITIES
from watchkeeper.csvcells import safe_row

FINDINGS_PER_RULE = 50  # check rows shown per rule
FINDINGS_LIMIT = 250  # check rows shown in all
REVOKE_NOTE_MAX = 500


@viewer_required
@vary_on_headers("HX-Request")
def findings(request):
    """Failing (or waived) checks of every cluster's latest evaluation, filtered, by rule."""
    clusters = list(Cluster.objects.order_by("name").only("id", "name", "environment"))
    filters, notes = findings_selectors.FindingsFilter.from_query(
        request.GET, cluster_names=[c.name for c in clusters]
    )
    result = findings_selectors.findings(
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


CSV_COLUMNS = ["cluster", "rule", "severity", "status", "object_type", "object_name", "message"]


class _Echo:
    def write(self, value):
        return value


@viewer_required
def findings_csv(request):
    """The findings page's checks (same filters, no caps) as CSV, streamed; cells that a
    spreadsheet would run as a formula get a leading apostrophe."""
    clusters = list(Cluster.objects.order_by("name").only("id", "name", "environment"))
    filters, _notes = findings_selectors.FindingsFilter.from_query(
        request.GET, cluster_names=[c.name for c in clusters]
    )
    checks, cluster_of = findings_selectors.finding_checks(filters=filters, clusters=clusters)
    checks = checks.filter(status__in=findings_selectors.FINDINGS_SHOW[filters.show]).order_by(
        "rule", "evaluation_id", "id"
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for evaluation_id, *rest in checks.values_list("evaluation_id", *CSV_COLUMNS[1:]).iterator(
            chunk_size=2000
        ):
            yield writer.writerow(safe_row([cluster_of[evaluation_id], *rest]))

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="findings.csv"'
    return response


def _link_clusters(result: findings_selectors.Findings) -> None:
    """Each shown cluster's page, reversed once per cluster rather than once per row."""
    urls: dict[str, str] = {}
    for group in result.groups:
        for item in (*group.clusters_named, *group.rows):
            if item.cluster not in urls:
                urls[item.cluster] = reverse("clusters:detail", args=[item.cluster])
            item.cluster_url = urls[item.cluster]


def waivers_context(request, **extra) -> dict:
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
    return render(request, template, waivers_context(request))
