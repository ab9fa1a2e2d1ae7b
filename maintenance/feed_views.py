"""The reminders log, the embedded outbox and the per-cluster calendar feed."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import VIEWER, global_admin_required, is_global_admin, viewer_required
from clusters import selectors as cluster_selectors
from clusters.models import Cluster

from . import ical, selectors
from .models import Reminder
from .views import FEED_AHEAD, skipped_notes


@viewer_required
def reminders(request):
    """The reminders log: what went (or goes) to whom, and failures."""
    status = request.GET.get("status", "")
    if status not in Reminder.Status.values:
        status = ""
    return render(
        request,
        "maintenance/reminders.html",
        {
            "rows": selectors.reminders_log(
                status=status,
                clusters=None
                if is_global_admin(request.user)
                else cluster_selectors.visible_clusters(request.user),
            ),
            "status": status,
            "statuses": Reminder.Status.values,
        },
    )


@global_admin_required
def outbox(request):
    """Messages written by the embedded email default (no SMTP server configured); global
    admins only (the messages are about every team's clusters)."""
    directory = settings.EMAIL_OUTBOX_DIR
    files = sorted(directory.glob("*.log"), reverse=True)[:50] if directory.is_dir() else []
    messages_ = [
        {"name": path.name, "text": path.read_text(errors="replace")[:20000]} for path in files
    ]
    smtp = settings.MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend")
    return render(
        request,
        "maintenance/outbox.html",
        {"files": messages_, "smtp": smtp, "directory": directory},
    )


@login_not_required
@require_GET
def calendar_feed(request, token: str):
    """The cluster's iCalendar feed; the secret token in the URL is the only credential."""
    cluster = Cluster.objects.filter(calendar_token=token).first() if len(token) >= 16 else None
    if cluster is None or (
        request.user.is_authenticated and not cluster_selectors.may(request.user, cluster, VIEWER)
    ):  # the token is the credential; a signed-in user outside the team still gets nothing
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
        skipped=skipped_notes(
            first_day=timezone.localdate(now),
            last_day=timezone.localdate(now + FEED_AHEAD),
            cluster=cluster,
        ),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{cluster.name}-maintenance.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["Referrer-Policy"] = "no-referrer"
    return response
