"""Readiness pages."""

from django.shortcuts import render

from accounts.roles import viewer_required


@viewer_required
def findings(request):
    """Failing checks across clusters."""
    return render(request, "readiness/findings.html", {})
