"""Reads of the clusters app for other apps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min, Q
from django.http import Http404

from accounts.roles import RANK, VIEWER, is_global_admin, role_in_team, team_roles
from clusters.models import Cluster, Node, NodeTransition, PollRun, PollSnapshot
from clusters.snapshot import DOWN_STATES
from watchkeeper import crypto

# --- Who may see which cluster: the one place every page, feed, API call and listing asks --


def visible_clusters(user, role: str = VIEWER):
    """The clusters USER holds ROLE or more on: every cluster for a global admin, else those
    of the teams USER is a member of with that role. A queryset (filter it further)."""
    if is_global_admin(user):
        return Cluster.objects.all()
    teams = [team for team, held in team_roles(user).items() if RANK[held] >= RANK[role]]
    return Cluster.objects.filter(team_id__in=teams)


def role_on(user, cluster) -> str | None:
    """USER's role on CLUSTER (admin for a global admin); None when USER may not see it."""
    return role_in_team(user, cluster.team_id)


def may(user, cluster, role: str) -> bool:
    """True when USER holds ROLE or more on CLUSTER."""
    return RANK[role_on(user, cluster)] >= RANK[role]


def users_who_see(*, cluster, users) -> set[int]:
    """The ids of USERS who may see CLUSTER (members of its team, global admins): one query,
    for deriving notification recipients."""
    return set(
        get_user_model()
        .objects.filter(pk__in=[user.pk for user in users], is_active=True)
        .filter(Q(is_superuser=True) | Q(memberships__team_id=cluster.team_id))
        .values_list("pk", flat=True)
    )


def cluster_for(user, *, role: str = VIEWER, queryset=None, **lookup):
    """The cluster matching LOOKUP that USER may see, for a view: 404 when there is none or
    USER is not in its team (its existence is not revealed), 403 when USER sees it but holds
    less than ROLE on it."""
    cluster = (queryset if queryset is not None else visible_clusters(user)).filter(**lookup)
    found = cluster.first() if lookup else None
    if found is None or role_on(user, found) is None:
        raise Http404("No such cluster.")
    if not may(user, found, role):
        raise PermissionDenied(f"This needs the {role} role on cluster {found.name}.")
    return found


def object_for(user, queryset, *, role: str = VIEWER, cluster_field: str = "cluster", **lookup):
    """One object of a cluster (a waiver, an occurrence, a backup...) matching LOOKUP, for a
    view: 404 unless USER sees its cluster, 403 when USER holds less than ROLE on it."""
    if not is_global_admin(user):
        queryset = queryset.filter(**{f"{cluster_field}__team_id__in": list(team_roles(user))})
    found = queryset.filter(**lookup).first()
    if found is None:
        raise Http404("Not found.")
    cluster = found
    for part in cluster_field.split("__"):
        cluster = getattr(cluster, part)
    if not may(user, cluster, role):
        raise PermissionDenied(f"This needs the {role} role on cluster {cluster.name}.")
    return found


@dataclass(frozen=True)
class Reboot:
    """A node seen going down (down/unknown/disconnected) and back to ready."""

    node_id: str
    hostname: str
    down_at: datetime
    ready_at: datetime


def latest_snapshot(*, cluster):
    """The last good clusters.snapshot.Snapshot of CLUSTER, or None."""
    stored = PollSnapshot.objects.filter(cluster=cluster).order_by("-taken_at").first()
    return stored.load() if stored else None


def latest_swarm(*, cluster):
    """The clusters.snapshot.SwarmInfo of CLUSTER's last good snapshot, or None; reads only
    the head of the stored data (PollSnapshot.load_swarm)."""
    stored = PollSnapshot.objects.filter(cluster=cluster).order_by("-taken_at").first()
    return stored.load_swarm() if stored else None


def node_reboots(*, cluster, since: datetime, until: datetime) -> list[Reboot]:
    """Reboots observed on CLUSTER whose return to ready falls in [since, until)."""
    ready_nodes = NodeTransition.objects.filter(
        cluster=cluster, to_state="ready", from_state__in=DOWN_STATES, at__gte=since, at__lt=until
    ).values("node_id")
    transitions = (
        NodeTransition.objects.filter(cluster=cluster, node_id__in=ready_nodes, at__lt=until)
        .select_related("node")
        .order_by("node_id", "at", "pk")
    )
    reboots = []
    down: dict[int, datetime] = {}
    for t in transitions:
        if t.to_state in DOWN_STATES:
            down.setdefault(t.node_id, t.at)
        elif t.to_state == "ready":
            went_down = down.pop(t.node_id, None)
            if went_down is not None and since <= t.at < until:
                reboots.append(Reboot(t.node.swarm_id, t.node.hostname, went_down, t.at))
    return sorted(reboots, key=lambda r: r.ready_at)


def stored_credentials(*, cluster) -> dict[str, bool]:
    """Which credentials are stored for CLUSTER, never their values: {"ca": True, ...};
    {"unreadable": True} when they cannot be decrypted."""
    try:
        text = cluster.get_credentials()
    except crypto.SecretUnreadable:
        return {"unreadable": True}
    return {key: bool(value) for key, value in json.loads(text).items()} if text else {}


def current_nodes(*, cluster):
    """CLUSTER's nodes still in the swarm, by hostname (removed ones are kept for history)."""
    return cluster.nodes.filter(removed_at__isnull=True).order_by("hostname", "id")


def current_services(*, cluster):
    """CLUSTER's services still deployed, by name (removed ones are kept for history)."""
    return cluster.services.filter(removed_at__isnull=True).order_by("name", "id")


def nodes_down(*, cluster, seen_since: datetime):
    """CLUSTER's nodes seen down (or disconnected) by every good poll since SEEN_SINCE or
    earlier (clusters.persistence keeps Node.down_since)."""
    return Node.objects.filter(
        cluster=cluster, removed_at__isnull=True, down_since__lte=seen_since
    ).order_by("hostname", "id")


@dataclass(frozen=True)
class Outage:
    """A run of failed polls (Watchkeeper's own database faults aside): first and last."""

    first: datetime
    last: datetime


def poll_outage(*, cluster, until: datetime) -> Outage | None:
    """The run of failed polls started at or before UNTIL and after the last good one; None
    when the last poll up to UNTIL was good (or there was none)."""
    runs = PollRun.objects.filter(cluster=cluster, started_at__lte=until).exclude(
        error_kind="database"
    )
    last_ok = runs.filter(ok=True).values_list("started_at", flat=True).first()
    failed = runs.filter(ok=False)
    if last_ok is not None:
        failed = failed.filter(started_at__gt=last_ok)
    bounds = failed.aggregate(first=Min("started_at"), last=Max("started_at"))
    return Outage(bounds["first"], bounds["last"]) if bounds["first"] is not None else None
