"""The waiver pages that re-score a cluster at once (scoring reads maintenance facts and
queues notices: a dashboard job); the waiver list itself is readiness.views.waivers."""

from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import OPERATOR, operator_required, viewer_required
from clusters.selectors import cluster_for, object_for
from dashboard import pipeline
from readiness import services
from readiness.models import Waiver
from readiness.views import REVOKE_NOTE_MAX, waivers_context


@viewer_required
@vary_on_headers("HX-Request")
def waiver_revoke(request, pk: int):
    """Revoke a waiver and re-score its cluster at once; htmx gets the list back."""
    waiver = object_for(
        request.user, Waiver.objects.select_related("cluster"), role=OPERATOR, pk=pk
    )
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    note = request.POST.get("note", "").strip()
    if len(note) > REVOKE_NOTE_MAX:
        error = f"The note can be at most {REVOKE_NOTE_MAX} characters."
        context = waivers_context(request, failed_pk=waiver.pk, error=error, note=note)
        if request.htmx:
            return render(request, "readiness/waivers.html#waiver-list", context, status=400)
        return render(request, "readiness/waivers.html", context, status=400)
    now = timezone.now()
    already = waiver.revoked_at is not None
    if not already:
        services.waiver_revoke(waiver=waiver, by=request.user, now=now, note=note)
        pipeline.cluster_rescore(cluster=waiver.cluster, now=now)
    what = f"{waiver.rule} on {waiver.cluster.name} ({waiver.selector or 'every object'})"
    flash = (
        f"The waiver of {what} was already revoked."
        if already
        else (f"Revoked the waiver of {what}; the cluster is re-scored.")
    )
    if request.htmx:
        return render(
            request, "readiness/waivers.html#waiver-list", waivers_context(request, flash=flash)
        )
    messages.success(request, flash)
    target = reverse("readiness:waivers")
    if request.POST.get("show") == "all":
        target += "?show=all"
    return redirect(target)


@operator_required
def waiver_new(request):
    """The waive dialog (GET) and the waiver it creates (POST); the score is recomputed at once."""
    source = request.POST if request.method == "POST" else request.GET
    cluster = cluster_for(request.user, name=source.get("cluster", ""), role=OPERATOR)
    rule = source.get("rule", "")
    selector = source.get("object", "")
    now = timezone.now()
    default_expiry = (now + timedelta(days=30)).date().isoformat()
    context = {
        "cluster": cluster,
        "rule": rule,
        "selector": selector,
        "reason": source.get("reason", ""),
        "expires": source.get("expires", default_expiry),
        "max_expiry": (now + timedelta(days=180)).date().isoformat(),
        "errors": [],
    }
    if request.method == "POST":
        try:
            expires = datetime.combine(
                date.fromisoformat(context["expires"]), time(23, 59), tzinfo=UTC
            )
        except ValueError:
            context["errors"] = ["Give the expiry as a date (YYYY-MM-DD)."]
        else:
            try:
                services.waiver_create(
                    cluster=cluster, rule=rule, selector=selector, reason=context["reason"],
                    owner=request.user, expires_at=expires, created_by=request.user, now=now,
                )  # fmt: skip
            except ValidationError as exc:
                context["errors"] = exc.messages
            else:
                pipeline.cluster_rescore(cluster=cluster, now=now)
                messages.success(request, f"Waived {rule} on {selector or 'every object'}.")
                target = reverse("clusters:detail", args=[cluster.name])
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return redirect(target)
    template = "readiness/waiver_new.html#dialog" if request.htmx else "readiness/waiver_new.html"
    status = 400 if context["errors"] else 200
    return render(request, template, context, status=status)
