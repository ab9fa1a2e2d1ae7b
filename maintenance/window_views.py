"""A window's page (its rule, coming occurrences and history; edit and delete for operators)
and cancelling or restoring one occurrence from the calendar."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.roles import operator_required, viewer_required

from . import recurrence, selectors, window_form
from .models import Occurrence, Window
from .services import occurrences as occurrence_services
from .services import windows as window_services


@viewer_required
def window(request, pk: int):
    """One window: rule, coming occurrences, past ones; the edit form for operators."""
    item = get_object_or_404(Window.objects.select_related("cluster"), pk=pk)
    return _window_page(request, item)


def _window_page(request, item: Window, *, form=None, errors=(), status: int = 200):
    """The window page; FORM (the edit fields as sent) and ERRORS after a bad POST."""
    coming, history = selectors.window_occurrences(window=item, now=timezone.now())
    return render(
        request,
        "maintenance/window.html",
        {
            "window": item,
            "coming": coming,
            "history": history,
            "form": form or window_form.of_window(item),
            "form_errors": list(errors),
            "weekdays": window_form.WEEKDAYS,
            "kinds": recurrence.KINDS,
            "ordinals": window_form.ORDINALS,
            "ended": item.active_until is not None
            and item.active_until < timezone.localdate(timezone.now()),
        },
        status=status,
    )


@operator_required
@require_POST
def window_edit(request, pk: int):
    """Change a window; a bad entry shows the form again as typed and changes nothing."""
    item = get_object_or_404(Window.objects.select_related("cluster"), pk=pk)
    sent = window_form.sent_from(request.POST)
    sent["cluster"] = str(item.cluster_id)
    try:
        start_time, duration = window_form.times(sent)
        updated = window_services.window_update(
            window=item,
            now=timezone.now(),
            start_time=start_time,
            duration_minutes=duration,
            tz=sent["tz"].strip(),
            name=sent["name"].strip(),
            **window_form.schedule(sent),
        )
    except ValidationError as exc:
        return _window_page(request, item, form=sent, errors=exc.messages, status=400)
    messages.success(request, f"Window {updated.name} saved; its coming occurrences follow it.")
    if updated.duration_warning:
        messages.warning(request, updated.duration_warning)
    return redirect("maintenance:window", pk=updated.pk)


@operator_required
@require_POST
def window_delete(request, pk: int):
    """Delete a window; its past occurrences stay as history."""
    item = get_object_or_404(Window.objects.select_related("cluster"), pk=pk)
    name = item.name
    if request.POST.get("confirm", "").strip() != name:
        errors = [f"Type the window's name ({name}) to delete it."]
        return _window_page(request, item, errors=errors, status=400)
    removed = window_services.window_delete(window=item, now=timezone.now())
    if removed:
        messages.success(request, f"Window {name} deleted.")
    else:
        messages.success(request, f"Window {name} deleted; its past occurrences stay as history.")
    return redirect("maintenance:overview")


def _back(request, occurrence: Occurrence):
    """Where the cancel/restore form came from (the calendar), else the occurrence's page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("maintenance:occurrence", pk=occurrence.pk)


@operator_required
@require_POST
def occurrence_cancel(request, pk: int):
    """Cancel one coming occurrence, with a reason everyone sees."""
    item = get_object_or_404(Occurrence.objects.select_related("window__cluster"), pk=pk)
    try:
        occurrence_services.occurrence_cancel(
            occurrence=item, now=timezone.now(), reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{item.window.name} on {item.local_date} cancelled.")
    return _back(request, item)


@operator_required
@require_POST
def occurrence_restore(request, pk: int):
    """Schedule a cancelled coming occurrence again."""
    item = get_object_or_404(Occurrence.objects.select_related("window__cluster"), pk=pk)
    try:
        occurrence_services.occurrence_restore(
            occurrence=item, now=timezone.now(), reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{item.window.name} on {item.local_date} scheduled again.")
    return _back(request, item)
