"""The freeze periods page: every freeze and skip date; operators add and delete them."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import operator_required, viewer_required
from clusters.models import Cluster

from .models import Freeze
from .services import freezes as freeze_services


@viewer_required
def freezes(request):
    """Freezes and skip dates, newest last; the add form for operators."""
    return _page(request)


def _page(request, *, form: dict | None = None, errors=(), status: int = 200):
    """The page; FORM (the fields as sent) and ERRORS after a bad POST."""
    today = timezone.localdate()
    return render(
        request,
        "maintenance/freezes.html",
        {
            "freezes": Freeze.objects.select_related("cluster", "created_by").order_by(
                "first_day", "name"
            ),
            "clusters": Cluster.objects.order_by("name").only("id", "name"),
            "today": today,
            "form": form or {"cluster": "", "name": "", "first_day": "", "last_day": ""},
            "form_errors": list(errors),
        },
        status=status,
    )


@operator_required
@require_POST
def freeze_add(request):
    """Add a freeze for one cluster or all; the future occurrences inside it are cancelled."""
    sent = {key: request.POST.get(key, "").strip() for key in ("cluster", "name", "first_day",
                                                               "last_day")}  # fmt: skip
    cluster = None
    if sent["cluster"]:
        pk = sent["cluster"]
        cluster = Cluster.objects.filter(pk=pk).first() if pk.isdigit() else None
        if cluster is None:
            errors = ["Choose a cluster or all clusters."]
            return _page(request, form=sent, errors=errors, status=400)
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


@operator_required
@require_POST
def freeze_delete(request, pk: int):
    """Delete a freeze; the occurrences it cancelled are scheduled again."""
    item = get_object_or_404(Freeze, pk=pk)
    name = item.name
    back = freeze_services.freeze_delete(freeze=item, now=timezone.now())
    messages.success(
        request, f"Freeze {name} deleted; {back} occurrence{'s' if back != 1 else ''} back."
    )
    return redirect("maintenance:freezes")
