"""The API's writes of clusters, polls and waivers: the settings page's and `manage.py cluster`'s
services (dashboard.registration, dashboard.polls) and the waiver pages' (readiness.services,
then dashboard.pipeline.cluster_rescore, as the pages re-score)."""

from datetime import UTC, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.debug import sensitive_variables
from ninja import Status

from accounts.models import Team
from accounts.roles import ADMIN, OPERATOR, role_in_team
from clusters import registration
from clusters import selectors as cluster_selectors
from clusters.endpoint import ClusterInputError
from clusters.models import Cluster
from dashboard import pipeline, polls
from dashboard import registration as dashboard_registration
from dashboard import selectors as dashboard_selectors
from readiness import services as readiness_services
from readiness.models import Waiver

from . import access, inputs, schemas
from .app import ERRORS, WRITE_ERRORS, api
from .auth import needs, require
from .errors import ApiError, invalid

# --- clusters (admin) -------------------------------------------------------------------------


def _cluster_error(exc: ClusterInputError, *, name: str, exclude_pk: int | None = None):
    """The service's refusal: 409 when NAME is taken by another cluster, 422 otherwise."""
    taken = Cluster.objects.filter(name=name).exclude(pk=exclude_pk).exists()
    if exc.field == "name" and taken:
        return ApiError(409, "name_taken", f"A cluster named {name!r} already exists.")
    return ApiError(422, "validation_error", capfirst(str(exc)), extra={"field": exc.field})


def _written(cluster: Cluster) -> dict:
    """The cluster as `cluster list --format json` shows it, with its settings (which
    credentials are stored, never what they are)."""
    [summary] = dashboard_selectors.cluster_summaries(
        clusters=Cluster.objects.filter(pk=cluster.pk)
    )
    recipients = cluster.recipients.filter(user__isnull=True).order_by("email")
    return {
        **summary,
        "settings": {
            "poll_interval": cluster.poll_interval,
            "enabled": cluster.enabled,
            "drain_assist": cluster.drain_assist,
            "dns_server": cluster.dns_server,
            "ingress_addresses": cluster.ingress_addresses,
            "notify": [r.email for r in recipients],
            "credentials_stored": cluster_selectors.stored_credentials(cluster=cluster),
        },
    }


def _tls(body) -> dict[str, str] | None:
    return body.tls.dict() if body.tls is not None else None


@api.post(
    "/clusters",
    response={201: schemas.ClusterWritten, **WRITE_ERRORS},
    url_name="cluster_add",
    auth=needs(ADMIN),
)
@sensitive_variables()
def cluster_add(request, body: inputs.ClusterIn):
    """Register a cluster (admin), with the checks of the settings page and `cluster add`:
    the URL and its TLS or SSH material, recipients, addresses, the readiness policy."""
    principal = require(request, ADMIN)
    if role_in_team(principal.user, Team.default().pk) != ADMIN:  # it goes to the default team
        raise ApiError(
            403, "role_required", "A cluster added by API goes to the default team: this needs "
            "the admin role there (or the global admin role).",
        )  # fmt: skip
    try:
        cluster = dashboard_registration.cluster_add(
            name=body.name, url=body.url, environment=body.environment, tls=_tls(body),
            notify=body.notify, ssh_key=body.ssh_key, ssh_known_hosts=body.ssh_known_hosts,
            ssh_accept_new_host_key=body.ssh_accept_new_host_key,
            poll_interval=body.poll_interval, enabled=body.enabled,
            drain_assist=body.drain_assist, dns_server=body.dns_server,
            ingress_addresses=body.ingress_addresses, policy=body.policy, by=principal.user,
            names=inputs.NAMES,
        )  # fmt: skip
    except ClusterInputError as exc:
        raise _cluster_error(exc, name=body.name) from None
    return Status(201, _written(cluster))


@api.patch(
    "/clusters/{name}",
    response={200: schemas.ClusterWritten, **WRITE_ERRORS},
    url_name="cluster_update",
    auth=needs(ADMIN),
)
@sensitive_variables()
def cluster_update(request, name: str, body: inputs.ClusterPatch):
    """Change a cluster's settings (admin); fields left out keep their values, TLS and SSH
    material left out is kept (as on the settings page)."""
    principal = require(request, ADMIN)
    cluster = access.cluster_get(request, name)
    recipients = list(cluster.recipients.all())
    sent = body.dict(exclude_unset=True)
    current = {
        "name": cluster.name,
        "url": cluster.url,
        "environment": cluster.environment,
        "poll_interval": cluster.poll_interval,
        "enabled": cluster.enabled,
        "drain_assist": cluster.drain_assist,
        "dns_server": cluster.dns_server,
        "ingress_addresses": cluster.ingress_addresses,
        "notify": [r.email for r in recipients if r.user_id is None],
    }
    settings = {key: sent[key] if sent.get(key) is not None else value
                for key, value in current.items()}  # fmt: skip
    try:
        updated = dashboard_registration.cluster_update(
            cluster=cluster, **settings,
            notify_users=[r.user for r in recipients if r.user_id is not None],
            tls=_tls(body), ssh_key=body.ssh_key, ssh_known_hosts=body.ssh_known_hosts,
            ssh_accept_new_host_key=body.ssh_accept_new_host_key, policy=body.policy,
            by=principal.user, names=inputs.NAMES,
        )  # fmt: skip
    except ClusterInputError as exc:
        raise _cluster_error(exc, name=settings["name"], exclude_pk=cluster.pk) from None
    return _written(updated)


@api.delete(
    "/clusters/{name}",
    response={204: None, **WRITE_ERRORS},
    url_name="cluster_delete",
    auth=needs(ADMIN),
)
def cluster_delete(request, name: str, confirm: str = ""):
    """Delete a cluster and everything recorded about it (admin); `confirm` repeats its name,
    as on the settings page."""
    require(request, ADMIN)
    cluster = access.cluster_get(request, name)
    try:
        registration.cluster_delete(cluster=cluster, confirm=confirm)
    except ClusterInputError as exc:
        raise ApiError(422, "validation_error", f"confirm: {exc}") from None
    return Status(204, None)


# --- polls (operator) -------------------------------------------------------------------------


def _poll(cluster: Cluster, state: polls.PollState) -> dict:
    run = state.run
    return {
        "id": polls.request_id(state.requested_at),
        "cluster": cluster.name,
        "requested_at": state.requested_at,
        "status": state.status,
        "run": None
        if run is None
        else {
            "id": run.pk, "started_at": run.started_at, "duration_ms": run.duration_ms,
            "ok": run.ok, "error": run.error, "nodes": run.nodes, "services": run.services,
            "tasks": run.tasks,
        },
    }  # fmt: skip


@api.post(
    "/clusters/{name}/polls",
    response={202: schemas.PollOut, **WRITE_ERRORS},
    url_name="poll_request",
    auth=needs(OPERATOR),
)
def poll_request(request, name: str):
    """Poll the cluster now (operator), as the cluster page's "Poll now": the worker runs it.
    Follow it with the returned id; 409 while another poll runs or waits."""
    require(request, OPERATOR)
    cluster = access.cluster_get(request, name)
    now = timezone.now()
    try:
        requested = polls.poll_request(cluster=cluster, now=now)
    except polls.PollRefused as exc:
        extra = {"poll_id": polls.request_id(exc.requested_at)} if exc.requested_at else {}
        status = 503 if exc.code == "queue_unavailable" else 409
        raise ApiError(status, exc.code, str(exc), extra=extra) from None
    return Status(
        202, _poll(cluster, polls.poll_state(cluster=cluster, requested_at=requested, now=now))
    )


@api.get(
    "/clusters/{name}/polls/{poll_id}",
    response={200: schemas.PollOut, **ERRORS},
    url_name="poll_status",
    auth=needs(OPERATOR),
)
def poll_status(request, name: str, poll_id: int):
    """Where a poll asked for is (operator): queued, running, succeeded or failed (with the
    poll's run), or lost when no poll answered it within ten minutes."""
    require(request, OPERATOR)
    cluster = access.cluster_get(request, name)
    now = timezone.now()
    requested = polls.request_time(poll_id)
    if requested is None or requested > now or requested < cluster.created_at:
        raise ApiError(404, "not_found", f"No poll {poll_id} of {cluster.name}.")
    return _poll(cluster, polls.poll_state(cluster=cluster, requested_at=requested, now=now))


# --- waivers (operator) -----------------------------------------------------------------------


def _waiver(waiver: Waiver) -> dict:
    return {
        "id": waiver.pk, "cluster": waiver.cluster.name, "rule": waiver.rule,
        "object": waiver.selector, "reason": waiver.reason,
        "owner": waiver.owner.get_username(), "expires_at": waiver.expires_at,
        "created_at": waiver.created_at, "revoked_at": waiver.revoked_at,
        "revoked_by": waiver.revoked_by.get_username() if waiver.revoked_by else None,
    }  # fmt: skip


@api.post(
    "/clusters/{name}/waivers",
    response={201: schemas.WaiverOut, **WRITE_ERRORS},
    url_name="waiver_create",
    auth=needs(OPERATOR),
)
def waiver_create(request, name: str, body: inputs.WaiverIn):
    """Waive a rule on an object of the cluster (or every object) until `expires` (operator);
    the cluster is re-scored at once, as on the waive dialog."""
    principal = require(request, OPERATOR)
    cluster = access.cluster_get(request, name)
    now = timezone.now()
    try:
        with transaction.atomic():
            waiver = readiness_services.waiver_create(
                cluster=cluster, rule=body.rule, selector=body.object, reason=body.reason,
                owner=principal.user, created_by=principal.user, now=now,
                expires_at=datetime.combine(body.expires, time(23, 59), tzinfo=UTC),
            )  # fmt: skip
            pipeline.cluster_rescore(cluster=cluster, now=now)
    except ValidationError as exc:
        raise invalid(exc) from None
    return Status(201, _waiver(waiver))


@api.post(
    "/waivers/{waiver_id}/revoke",
    response={200: schemas.WaiverOut, **WRITE_ERRORS},
    url_name="waiver_revoke",
    auth=needs(OPERATOR),
)
def waiver_revoke(request, waiver_id: int, body: inputs.RevokeIn):
    """Revoke a waiver (operator); its cluster is re-scored at once. 409 if already revoked."""
    principal = require(request, OPERATOR)
    waiver = access.row_get(
        request, Waiver.objects.select_related("cluster", "owner", "revoked_by"), waiver_id,
        what="waiver",
    )  # fmt: skip
    if waiver.revoked_at is not None:
        raise ApiError(409, "already_revoked", f"Waiver {waiver.pk} was already revoked.")
    now = timezone.now()
    with transaction.atomic():
        readiness_services.waiver_revoke(
            waiver=waiver, by=principal.user, now=now, note=body.note.strip()
        )
        pipeline.cluster_rescore(cluster=waiver.cluster, now=now)
    return _waiver(
        Waiver.objects.select_related("cluster", "owner", "revoked_by").get(pk=waiver.pk)
    )
