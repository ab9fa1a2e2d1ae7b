"""Readiness pages."""

from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import operator_required, viewer_required
from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from readiness import selectors, services


@viewer_required
def findings(request):
    """Failing checks of every cluster's latest evaluation."""
    checks = selectors.latest_failing_checks(clusters=list(Cluster.objects.all()))
    return render(request, "readiness/findings.html", {"checks": checks})


@operator_required
def waiver_new(request):
    """The waive dialog (GET) and the waiver it creates (POST); the score is recomputed at once."""
    source = request.POST if request.method == "POST" else request.GET
    cluster = get_object_or_404(Cluster, name=source.get("cluster", ""))
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
                snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
                if snapshot is not None:
                    services.evaluation_run(cluster=cluster, snapshot=snapshot, now=now)
                messages.success(request, f"Waived {rule} on {selector or 'every object'}.")
                target = reverse("clusters:detail", args=[cluster.name])
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return redirect(target)
    template = "readiness/waiver_new.html#dialog" if request.htmx else "readiness/waiver_new.html"
    status = 400 if context["errors"] else 200
    return render(request, template, context, status=status)
