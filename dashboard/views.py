"""Cluster pages."""

import logging

from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from accounts.roles import ADMIN, OPERATOR, viewer_required
from clusters.models import Cluster
from clusters.selectors import cluster_for, may, visible_clusters
from maintenance import selectors as maintenance_selectors
from readiness.report import render_text

from . import pages, polls, selectors

log = logging.getLogger(__name__)


@viewer_required
@vary_on_headers("HX-Request")
def fleet(request):
    """Every cluster watched, with its grade, score trend, poll state and maintenance state."""
    filters = pages.FleetFilter.from_query(request.GET)
    rows = pages.fleet_rows(
        now=timezone.now(), filters=filters, clusters=visible_clusters(request.user)
    )
    template = "clusters/fleet.html#fleet-table" if request.htmx else "clusters/fleet.html"
    return render(
        request,
        template,
        {
            "rows": rows,
            "filters": filters,
            "environments": Cluster.Environment.choices,
            "grades": pages.GRADES,
            "query": request.GET.urlencode(),
            "delivery_trouble": maintenance_selectors.delivery_trouble(),
        },
    )


def cluster_roles(user, cluster: Cluster) -> dict:
    """The template's can_operate / can_admin for one cluster (the user's role on it)."""
    return {"can_operate": may(user, cluster, OPERATOR), "can_admin": may(user, cluster, ADMIN)}


@viewer_required
def detail(request, name: str):
    """One cluster: the decision screen, findings, history, nodes, services, polls (?q= filters
    objects and rules; ?sort=&dir= orders a table; ?nodes=all, ?services=all list every node
    or service instead of the first ones, problems first)."""
    cluster = cluster_for(request.user, name=name)
    page = pages.cluster_page(
        cluster=cluster,
        now=timezone.now(),
        poll_running=polls.poll_running(cluster=cluster, now=timezone.now()),
        query=pages.PageQuery.from_query(request.GET),
    )
    context = {"cluster": cluster, "page": page, **cluster_roles(request.user, cluster)}
    return render(request, "clusters/detail.html", context)


@viewer_required
def poll_now(request, name: str):
    """Ask the worker to poll this cluster now; the status fragment follows its progress."""
    cluster = cluster_for(request.user, name=name, role=OPERATOR)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        polls.poll_request(cluster=cluster, now=timezone.now())
    except polls.PollRefused as refused:
        # running or waiting: the fragment follows that one; the cluster off: nothing to do
        if refused.code == "queue_unavailable":
            return _poll_status_response(request, cluster, queue_unavailable=True)
    return _poll_status_response(request, cluster)


@viewer_required
def poll_status(request, name: str):
    """The poll-status fragment; htmx polling stops (286) once the poll has finished."""
    cluster = cluster_for(request.user, name=name, role=OPERATOR)
    return _poll_status_response(request, cluster)


def _poll_status_response(
    request, cluster: Cluster, *, queue_unavailable: bool = False
) -> HttpResponse:
    running = polls.poll_running(cluster=cluster, now=timezone.now())
    page = pages.PollProgress(poll_running=running)
    response = render(
        request,
        "clusters/detail.html#poll-status",
        {
            "cluster": cluster,
            "page": page,
            "poll_finished": not running and not queue_unavailable,
            "queue_unavailable": queue_unavailable,
            "can_operate": True,
        },
    )
    if not running and request.method == "GET":
        response.status_code = 286
        response["HX-Trigger"] = "poll-finished"
    return response


@viewer_required
def report(request, name: str):
    """A cluster's readiness report as a printable page (the print stylesheet drops the nav)."""
    cluster = cluster_for(request.user, name=name)
    result = selectors.cluster_report(cluster=cluster, now=timezone.now())
    text = render_text(result) if result is not None else ""
    return render(request, "clusters/report.html", {"cluster": cluster, "report_text": text})
