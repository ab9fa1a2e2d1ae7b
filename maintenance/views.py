"""Maintenance pages and the calendar feed."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import viewer_required
from clusters.models import Cluster

from . import ical, selectors

FEED_AHEAD = timedelta(weeks=8)


@viewer_required
def overview(request):
    """Upcoming windows, backup-restore tests and checklists."""
    return render(request, "maintenance/overview.html", {})


@login_not_required
@require_GET
def calendar_feed(request, token: str):
    """The cluster's iCalendar feed; the secret token in the URL is the only credential."""
    cluster = Cluster.objects.filter(calendar_token=token).first() if len(token) >= 16 else None
    if cluster is None:
        raise Http404("No such calendar.")
    now = timezone.now()
    body = ical.build(
        cluster_name=cluster.name,
        occurrences=selectors.upcoming_occurrences(
            cluster=cluster, now=now, until=now + FEED_AHEAD
        ),
        steps=selectors.open_checklist_steps(cluster=cluster, now=now, until=now + FEED_AHEAD),
        now=now,
        base_url=settings.WATCHKEEPER_BASE_URL,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{cluster.name}-maintenance.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["Referrer-Policy"] = "no-referrer"
    return response
