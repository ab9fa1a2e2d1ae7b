"""The freeze periods page: the freezes and skip dates a user may see, and adding and deleting
them. A freeze of one cluster is seen by that cluster's team (and global admins) and added or
deleted by its operators; a freeze of all clusters is seen by everyone, and only global admins
add or delete it (it stops every team's maintenance)."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import OPERATOR, is_global_admin, operator_required, viewer_required
from clusters import selectors as cluster_selectors

from .models import Freeze
from .services import freezes as freeze_services

ALL_CLUSTERS_ONLY_GLOBAL = "Only a global admin may add or delete a freeze of all clusters."


def _seen(user):
    """The freezes USER sees: all-cluster ones and those of the clusters USER sees."""
    return Freeze.objects.filter(
        Q(cluster__isnull=True) | Q(cluster__in=cluster_selectors.visible_clusters(user))
    )


def _may_change(user, freeze: Freeze) -> bool:
    if freeze.cluster_id is None:
        return is_global_admin(user)
    return cluster_selectors.may(user, freeze.cluster, OPERATOR)


@viewer_required
def freezes(request):
    """Freezes and skip dates, newest last; the add form for operators."""
    return _page(request)


def _page(request, *, form: dict | None = None, errors=(), status: int = 200):
    """The page; FORM (the fields as sent) and ERRORS after a bad POST."""
    today = timezone.localdate()
    rows = list(
        _seen(request.user).select_related("cluster", "created_by").order_by("first_day", "name")
    )
    operable = cluster_selectors.visible_clusters(request.user, OPERATOR)
    return render(
        request,
        "maintenance/freezes.html",
        {
            "freezes": rows,
            "deletable": {row.pk for row in rows if _may_change(request.user, row)},
            "clusters": operable.order_by("name").only("id", "name"),
            "all_clusters": is_global_admin(request.user),
            "can_operate": is_global_admin(request.user) or operable.exists(),
            "today": today,
            "form": form or {"cluster": "", "name": "", "first_day": "", "last_day": ""},
            "form_errors": list(errors),
        },
        status=status,
    )


@operator_required
@require_POST
def freeze_add(request):
    """Add a freeze for one cluster the user operates, or (global admins) all clusters; the
    future occurrences inside it are cancelled."""
    sent = {key: request.POST.get(key, "").strip() for key in ("cluster", "name", "first_day",
                                                               "last_day")}  # fmt: skip
    cluster = None
    if sent["cluster"]:
        pk = sent["cluster"]
        mine = cluster_selectors.visible_clusters(request.user, OPERATOR)
        cluster = mine.filter(pk=pk).first() if pk.isdigit() else None
        if cluster is None:  # another team's cluster is as unknown as a missing one
            errors = ["Choose a cluster from the list."]
            return _page(request, form=sent, errors=errors, status=400)
    elif not is_global_admin(request.user):
        return _page(request, form=sent, errors=[ALL_CLUSTERS_ONLY_GLOBAL], status=403)
    try:
        first = date.fromisoformat(sent["first_day"])
        last = date.fromisoformat(sent["last_day"]) if sent["last_day"] else None
    except ValueError:
        errors = ["Give the first (and last) day as dates."]
        return _page(request, form=sent, errors=errors, status=400)
    try:
        item, cancelled = freeze_services.freeze_add(
            name=sent["name"], first_day=first, last_day=last, cluster=cluster,
            now=timezone.now(), user=request.user,
        )  # fmt: skip
    except ValidationError as exc:
        return _page(request, form=sent, errors=exc.messages, status=400)
    messages.success(
        request,
        f"Freeze {item.name} added for {item.scope}; {cancelled} scheduled occurrence"
        f"{'s' if cancelled != 1 else ''} cancelled.",
    )
    return redirect("maintenance:freezes")


@viewer_required
def freeze_delete(request, pk: int):
    """Delete a freeze; the occurrences it cancelled are scheduled again."""
    item = _seen(request.user).select_related("cluster").filter(pk=pk).first()
    if item is None:
        raise Http404("No such freeze.")
    if not _may_change(request.user, item):
        if item.cluster_id is None:
            raise PermissionDenied(ALL_CLUSTERS_ONLY_GLOBAL)
        raise PermissionDenied(f"This needs the operator role on cluster {item.cluster.name}.")
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    name = item.name
    back = freeze_services.freeze_delete(freeze=item, now=timezone.now())
    messages.success(
        request, f"Freeze {name} deleted; {back} occurrence{'s' if back != 1 else ''} back."
    )
    return redirect("maintenance:freezes")
