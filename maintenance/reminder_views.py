"""The reminders log's actions: an operator retries a permanently failed reminder of a cluster
they operate (a reminder of no cluster, such as a channel test, is a global admin's)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils import timezone

from accounts.roles import OPERATOR, is_global_admin, viewer_required
from clusters import selectors as cluster_selectors

from .models import Reminder
from .services import outbox


def _reminder(request, pk: int) -> Reminder:
    """Reminder PK as the reminders log shows it to the user (404 otherwise), which the user
    may retry (403 otherwise)."""
    rows = Reminder.objects.select_related("cluster")
    if not is_global_admin(request.user):
        rows = rows.filter(cluster__in=cluster_selectors.visible_clusters(request.user))
    reminder = rows.filter(pk=pk).first()
    if reminder is None:
        raise Http404("No such reminder.")
    if reminder.cluster is not None and not cluster_selectors.may(
        request.user, reminder.cluster, OPERATOR
    ):
        raise PermissionDenied(f"This needs the operator role on cluster {reminder.cluster.name}.")
    return reminder


@viewer_required
def reminder_retry(request, pk: int):
    """Send a failed reminder again at the next tick (its failure stays in its history)."""
    reminder = _reminder(request, pk)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    if outbox.reminder_retry(reminder_id=reminder.pk, user=request.user, now=timezone.now()):
        messages.success(
            request, f"The reminder to {reminder.destination} is due again: the next tick sends it."
        )
    else:
        messages.warning(request, "That reminder has not failed (any more): nothing to retry.")
    status = request.POST.get("status", "")
    url = redirect("maintenance:reminders").url
    return redirect(f"{url}?status={status}" if status in Reminder.Status.values else url)
