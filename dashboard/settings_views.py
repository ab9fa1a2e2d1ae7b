"""Cluster settings pages for admins: add, edit, test the connection, calendar token, delete.

Credentials are uploaded, never shown: the page says only whether each one is stored.
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as team_selectors
from accounts.roles import ADMIN, admin_required, viewer_required
from clusters import registration, selectors
from clusters.connection import PollFailed
from clusters.endpoint import FORM_NAMES, ClusterInputError
from clusters.forms import ClusterForm
from clusters.models import Cluster
from clusters.selectors import cluster_for
from dashboard import registration as dashboard_registration
from maintenance.services import windows as maintenance_services
from readiness.selectors import cluster_policy

TEMPLATE = "clusters/settings.html"


def _initial(cluster: Cluster) -> dict:
    recipients = list(cluster.recipients.all())
    return {
        "name": cluster.name,
        "team": cluster.team_id,
        "environment": cluster.environment,
        "url": cluster.url,
        "poll_interval": cluster.poll_interval,
        "enabled": cluster.enabled,
        "drain_assist": cluster.drain_assist,
        "window_notices": cluster.window_notices,
        "dns_server": cluster.dns_server,
        "ingress_addresses": cluster.ingress_addresses,
        "recipients": "\n".join(r.email for r in recipients if r.user_id is None),
        "recipient_users": [r.user_id for r in recipients if r.user_id is not None],
    }


def _form(cluster: Cluster | None, request, *, bound: bool | None = None) -> ClusterForm:
    """The form bound to REQUEST's POST, or showing CLUSTER as stored (the defaults if None).
    The team choices are the teams the user administers (every team for a global admin)."""
    policy = cluster_policy(cluster=cluster).to_dict()
    stored = selectors.stored_credentials(cluster=cluster) if cluster else None
    teams = team_selectors.teams_administered(user=request.user)
    team = cluster.team if cluster is not None else None
    if request.method == "POST" if bound is None else bound:
        return ClusterForm(
            request.POST,
            request.FILES,
            stored=stored,
            policy=policy,
            teams=teams,
            current_team=team,
        )
    if cluster is None:
        initial = {
            "environment": Cluster.Environment.PRODUCTION,
            "poll_interval": settings.WATCHKEEPER_DEFAULT_POLL_INTERVAL,
            "enabled": True,
        }
    else:
        initial = _initial(cluster)
    return ClusterForm(
        initial=initial, stored=stored, policy=policy, teams=teams, current_team=team
    )


def _page(request, form, cluster: Cluster | None, *, status: int = 200, **extra):
    context = {"form": form, "cluster": cluster, "files_dropped": form.files_given(), **extra}
    if cluster is not None:
        context["feed_url"] = settings.WATCHKEEPER_BASE_URL + reverse(
            "maintenance:calendar", args=[cluster.calendar_token]
        )
    return render(request, TEMPLATE, context, status=status)


@sensitive_variables()
def _test_connection(request, form: ClusterForm, cluster: Cluster | None):
    """Connect with the form's values (stored files where none were chosen); save nothing."""
    form.is_valid()
    result = {"test_errors": form.endpoint_errors()}
    if not result["test_errors"]:
        try:
            result["report"] = registration.cluster_connection_test(
                cluster=cluster, **form.endpoint_kwargs()
            )
        except ClusterInputError as exc:
            form.add_input_error(exc)
            result["test_errors"] = [capfirst(str(exc))]
        except PollFailed as exc:
            result["failure"] = exc.message
    if request.htmx:
        return render(request, TEMPLATE + "#connection-result", result)
    status = 400 if result["test_errors"] else 200
    return _page(request, form, cluster, status=status, tested=True, **result)


@sensitive_variables()
def _save(request, cluster: Cluster | None):
    form = _form(cluster, request)
    if "test_connection" in request.POST:
        return _test_connection(request, form, cluster)
    if form.is_valid():
        try:
            if cluster is None:
                saved = dashboard_registration.cluster_add(
                    **form.service_kwargs(), by=request.user, names=FORM_NAMES
                )
            else:
                saved = dashboard_registration.cluster_update(
                    cluster=cluster, **form.service_kwargs(), by=request.user
                )
        except ClusterInputError as exc:
            form.add_input_error(exc)
        else:
            if cluster is None:
                messages.success(request, f"Added {saved.name}; it is polled within a minute.")
                return redirect("clusters:fleet")
            messages.success(request, f"Settings of {saved.name} saved.")
            return redirect("clusters:settings", saved.name)
    return _page(request, form, cluster, status=400)


@admin_required
@sensitive_post_parameters()
@vary_on_headers("HX-Request")
def cluster_new(request):
    """Register a cluster (or only test its connection) in a team the user administers."""
    if request.method == "POST":
        return _save(request, None)
    return _page(request, _form(None, request), None)


@viewer_required
@sensitive_post_parameters()
@vary_on_headers("HX-Request")
def cluster_settings(request, name: str):
    """Edit a cluster's settings; credentials not uploaded again are kept."""
    cluster = cluster_for(request.user, name=name, role=ADMIN)
    if request.method == "POST":
        return _save(request, cluster)
    return _page(request, _form(cluster, request), cluster)


@viewer_required
def calendar_token_rotate(request, name: str):
    """New calendar feed URL; the old one stops working."""
    cluster = cluster_for(request.user, name=name, role=ADMIN)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    maintenance_services.calendar_token_rotate(cluster=cluster)
    messages.success(request, "New calendar feed URL; the old one no longer works.")
    return redirect("clusters:settings", cluster.name)


@viewer_required
def cluster_delete(request, name: str):
    """Delete the cluster once its name is typed to confirm."""
    cluster = cluster_for(request.user, name=name, role=ADMIN)
    if request.method != "POST":  # after the lookup: 404 before 405
        return HttpResponseNotAllowed(["POST"])
    try:
        registration.cluster_delete(cluster=cluster, confirm=request.POST.get("confirm", ""))
    except ClusterInputError as exc:
        return _page(
            request,
            _form(cluster, request, bound=False),
            cluster,
            status=400,
            delete_error=capfirst(str(exc)),
            confirm=request.POST.get("confirm", ""),
        )
    messages.success(request, f"Deleted {name} and everything recorded about it.")
    return redirect("clusters:fleet")
