"""The reminders log, the embedded outbox and the calendar feeds: one per cluster, one per user
(every cluster the user may see). A feed's secret token is its only credential; an unknown (or
rotated) token is a 404."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import selectors as account_selectors
from accounts.roles import OPERATOR, VIEWER, global_admin_required, is_global_admin, viewer_required
from clusters import selectors as cluster_selectors
from clusters.models import Cluster

from . import feeds, ical, selectors
from .models import Reminder

MIN_TOKEN = 16  # shorter tokens are never looked up


def _response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["Referrer-Policy"] = "no-referrer"
    return response


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
            "operable": set(
                cluster_selectors.visible_clusters(request.user, OPERATOR).values_list(
                    "pk", flat=True
                )
            ),
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
    """The cluster's iCalendar feed."""
    cluster = (
        Cluster.objects.filter(calendar_token=token).first() if len(token) >= MIN_TOKEN else None
    )
    if cluster is None or (
        request.user.is_authenticated and not cluster_selectors.may(request.user, cluster, VIEWER)
    ):  # the token is the credential; a signed-in user outside the team still gets nothing
        raise Http404("No such calendar.")
    now = timezone.now()
    body = ical.calendar(
        name=f"Watchkeeper maintenance: {cluster.name}",
        sections=[feeds.cluster_section(cluster=cluster, now=now)],
        now=now,
        base_url=settings.WATCHKEEPER_BASE_URL,
    )
    return _response(body, f"{cluster.name}-maintenance.ics")


@login_not_required
@require_GET
def user_calendar_feed(request, token: str):
    """One user's iCalendar feed across every cluster they may see now (an account that was
    deactivated or lost its role sees none: its feed is a 404)."""
    user = (
        account_selectors.user_by_calendar_token(token=token) if len(token) >= MIN_TOKEN else None
    )
    clusters = cluster_selectors.visible_clusters(user=user) if user is not None else None
    if clusters is None or not user.is_active:
        raise Http404("No such calendar.")
    now = timezone.now()
    body = ical.calendar(
        name=f"Watchkeeper maintenance ({user.get_username()})",
        sections=[feeds.cluster_section(cluster=c, now=now) for c in clusters.order_by("name")],
        now=now,
        base_url=settings.WATCHKEEPER_BASE_URL,
    )
    return _response(body, "watchkeeper-maintenance.ics")
