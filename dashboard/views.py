"""Cluster pages."""

import logging

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.roles import operator_required, viewer_required
from clusters.models import Cluster
from maintenance import selectors as maintenance_selectors
from readiness.report import render_text
from watchkeeper.degrade import CACHE_ERRORS, QUEUE_ERRORS

from . import pages, selectors
from .tasks import poll_cluster

log = logging.getLogger(__name__)


@viewer_required
@vary_on_headers("HX-Request")
def fleet(request):
    """Every cluster watched, with its grade, score trend, poll state and maintenance state."""
    filters = pages.FleetFilter.from_query(request.GET)
    rows = pages.fleet_rows(now=timezone.now(), filters=filters)
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


def _poll_key(cluster: Cluster) -> str:
    return f"poll-requested:{cluster.pk}"


def _poll_running(cluster: Cluster) -> bool:
    """A poll asked for from the page that has not finished yet, or one being run now
    (without the cache, only the one being run: the page works, less precisely)."""
    if cluster.poll_claimed_at is not None:
        return True
    try:
        requested = cache.get(_poll_key(cluster))
    except CACHE_ERRORS:
        log.warning("the cache is unavailable: poll requests are not tracked", exc_info=True)
        return False
    return requested is not None and (
        cluster.last_poll_at is None or cluster.last_poll_at < requested
    )


@viewer_required
def detail(request, name: str):
    """One cluster: scorecard, findings, nodes, services, polls (?nodes=all, ?services=all
    list every node or service instead of the first ones, problems first)."""
    cluster = get_object_or_404(Cluster, name=name)
    page = pages.cluster_page(
        cluster=cluster,
        now=timezone.now(),
        poll_running=_poll_running(cluster),
        all_nodes=request.GET.get("nodes") == "all",
        all_services=request.GET.get("services") == "all",
    )
    return render(request, "clusters/detail.html", {"cluster": cluster, "page": page})


@operator_required
@require_POST
def poll_now(request, name: str):
    """Ask the worker to poll this cluster now; the status fragment follows its progress."""
    cluster = get_object_or_404(Cluster, name=name)
    try:  # no retry: the operator is told at once, and the beat polls it anyway when back
        poll_cluster.apply_async((cluster.pk,), retry=False)
    except QUEUE_ERRORS:
        log.warning("the queue is unavailable: poll of %s not enqueued", cluster.pk, exc_info=True)
        return _poll_status_response(request, cluster, queue_unavailable=True)
    try:
        cache.set(_poll_key(cluster), timezone.now(), timeout=600)
    except CACHE_ERRORS:
        log.warning("the cache is unavailable: the poll request is not tracked", exc_info=True)
    return _poll_status_response(request, cluster)


@operator_required
def poll_status(request, name: str):
    """The poll-status fragment; htmx polling stops (286) once the poll has finished."""
    cluster = get_object_or_404(Cluster, name=name)
    return _poll_status_response(request, cluster)


def _poll_status_response(
    request, cluster: Cluster, *, queue_unavailable: bool = False
) -> HttpResponse:
    running = _poll_running(cluster)
    page = pages.PollProgress(poll_running=running)
    response = render(
        request,
        "clusters/detail.html#poll-status",
        {
            "cluster": cluster,
            "page": page,
            "poll_finished": not running and not queue_unavailable,
            "queue_unavailable": queue_unavailable,
        },
    )
    if not running and request.method == "GET":
        response.status_code = 286
        response["HX-Trigger"] = "poll-finished"
    return response


@viewer_required
def report(request, name: str):
    """A cluster's readiness report as a printable page (the print stylesheet drops the nav)."""
    cluster = get_object_or_404(Cluster, name=name)
    result = selectors.cluster_report(cluster=cluster, now=timezone.now())
    text = render_text(result) if result is not None else ""
    return render(request, "clusters/report.html", {"cluster": cluster, "report_text": text})
