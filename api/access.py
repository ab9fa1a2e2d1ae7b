"""Which clusters (and rows of clusters) a caller reaches. Every API lookup of a cluster, or of
a row that belongs to one, goes through here: the caller's teams decide (api.auth.cluster_for,
clusters.selectors.visible_clusters), with the role the operation asked for in `require`
(request.watchkeeper_role). A cluster of another team is 404, as an unknown one; one of the
caller's teams where the caller holds less than that role is 403."""

from django.db.models import F, QuerySet

from accounts.roles import RANK, VIEWER
from clusters.models import Cluster

from . import auth
from .errors import ApiError


def _role(request) -> str:
    return getattr(request, "watchkeeper_role", VIEWER)


def clusters_for(request) -> QuerySet[Cluster]:
    """The clusters the caller may see (with the operation's role or more; a token's scope
    caps it)."""
    role = _role(request)
    principal = request.auth
    if principal.token is not None and RANK[principal.role] < RANK[role]:
        return Cluster.objects.none()
    return auth.visible_clusters(request, role)


def cluster_get(request, name: str) -> Cluster:
    """The caller's cluster NAME; 404 when there is none or it is another team's, 403 when the
    caller holds less than the operation's role on it."""
    return auth.cluster_for(request, name, role=_role(request))


def row_get(request, queryset: QuerySet, pk: int, *, what: str, cluster_path: str = "cluster"):
    """The row PK of QUERYSET whose cluster (at CLUSTER_PATH) the caller reaches: 404 when
    there is none or its cluster is another team's, 403 (as cluster_get) when the caller sees
    the cluster but holds less than the operation's role on it."""
    row = (
        queryset.filter(pk=pk, **{f"{cluster_path}__in": auth.visible_clusters(request)})
        .annotate(access_cluster_name=F(f"{cluster_path}__name"))
        .first()
        if pk >= 0
        else None
    )
    if row is None:
        raise ApiError(404, "not_found", f"No {what} {pk}.")
    role = _role(request)
    if RANK[role] > RANK[VIEWER]:
        auth.cluster_for(request, row.access_cluster_name, role=role)  # 403 below ROLE
    return row
