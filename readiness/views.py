"""Readiness pages."""

from django.shortcuts import render

from accounts.roles import viewer_required
from clusters.models import Cluster
from readiness import selectors


@viewer_required
def findings(request):
    """Failing checks of every cluster's latest evaluation."""
    checks = selectors.latest_failing_checks(clusters=list(Cluster.objects.all()))
    return render(request, "readiness/findings.html", {"checks": checks})
