"""Cluster pages."""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from accounts.roles import viewer_required

from . import pages
from .models import Cluster


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
        },
    )


@viewer_required
def detail(request, name: str):
    """One cluster: scorecard, findings, nodes, services, polls."""
    cluster = get_object_or_404(Cluster, name=name)
    return render(request, "clusters/detail.html", {"cluster": cluster})
