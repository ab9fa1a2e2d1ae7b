"""Maintenance pages."""

from django.shortcuts import render

from accounts.roles import viewer_required


@viewer_required
def overview(request):
    """Upcoming windows, backup-restore tests and checklists."""
    return render(request, "maintenance/overview.html", {})
