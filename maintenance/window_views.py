"""A window's page (its rule, coming occurrences and history; edit and delete for operators)
and cancelling or restoring one occurrence from the calendar."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.roles import OPERATOR, VIEWER, viewer_required
from clusters import selectors as cluster_selectors

from . import recurrence, selectors, window_form
from .models import Occurrence, Window
from .services import occurrences as occurrence_services
from .services import windows as window_services


@viewer_required
def window(request, pk: int):
    """One window: rule, coming occurrences, past ones; the edit form for operators."""
    item = _window(request, pk, VIEWER)
    return _window_page(request, item)


def _window(request, pk: int, role: str) -> Window:
    """Window PK of a cluster the user sees (404 otherwise), with ROLE on it (403 otherwise)."""
    return cluster_selectors.object_for(
        request.user, Window.objects.select_related("cluster"), role=role, pk=pk
    )


def _occurrence(request, pk: int) -> Occurrence:
    """Occurrence PK of a cluster the user operates (404 when not seen, 403 below operator)."""
    return cluster_selectors.object_for(
        request.user,
        Occurrence.objects.select_related("window__cluster"),
        role=OPERATOR,
        cluster_field="window__cluster",
        pk=pk,
    )


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
            "can_operate": cluster_selectors.may(request.user, item.cluster, OPERATOR),
            "weekdays": window_form.WEEKDAYS,
            "kinds": recurrence.KINDS,
            "ordinals": window_form.ORDINALS,
            "ended": item.active_until is not None
            and item.active_until < timezone.localdate(timezone.now()),
        },
        status=status,
    )


@viewer_required
def window_edit(request, pk: int):
    """Change a window; a bad entry shows the form again as typed and changes nothing."""
    item = _window(request, pk, OPERATOR)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
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


@viewer_required
def window_delete(request, pk: int):
    """Delete a window; its past occurrences stay as history."""
    item = _window(request, pk, OPERATOR)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
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


@viewer_required
def occurrence_cancel(request, pk: int):
    """Cancel one coming occurrence, with a reason everyone sees."""
    item = _occurrence(request, pk)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        occurrence_services.occurrence_cancel(
            occurrence=item, now=timezone.now(), reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{item.window.name} on {item.local_date} cancelled.")
    return _back(request, item)


@viewer_required
def occurrence_restore(request, pk: int):
    """Schedule a cancelled coming occurrence again."""
    item = _occurrence(request, pk)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        occurrence_services.occurrence_restore(
            occurrence=item, now=timezone.now(), reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{item.window.name} on {item.local_date} scheduled again.")
    return _back(request, item)
