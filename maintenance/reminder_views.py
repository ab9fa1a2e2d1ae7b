"""The reminders log's actions: an operator retries a permanently failed reminder."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import operator_required

from .models import Reminder
from .services import outbox


@operator_required
@require_POST
def reminder_retry(request, pk: int):
    """Send a failed reminder again at the next tick (its failure stays in its history)."""
    reminder = get_object_or_404(Reminder, pk=pk)
    if outbox.reminder_retry(reminder_id=reminder.pk, user=request.user, now=timezone.now()):
        messages.success(
            request, f"The reminder to {reminder.destination} is due again: the next tick sends it."
        )
    else:
        messages.warning(request, "That reminder has not failed (any more): nothing to retry.")
    status = request.POST.get("status", "")
    url = redirect("maintenance:reminders").url
    return redirect(f"{url}?status={status}" if status in Reminder.Status.values else url)
