"""Cluster pages."""

from django.shortcuts import render

from accounts.roles import viewer_required

from .models import Cluster


@viewer_required
def fleet(request):
    """Every cluster watched, with its grade and next maintenance window."""
    clusters = Cluster.objects.order_by("name")
    return render(request, "clusters/fleet.html", {"clusters": clusters})
