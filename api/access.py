"""Which clusters (and rows of clusters) a caller reaches. Every API lookup of a cluster, or of
a row that belongs to one, goes through here, so that narrowing what a caller sees (per team,
say) is a change to `clusters_for` alone."""

from django.db.models import QuerySet

from clusters.models import Cluster

from .errors import ApiError


def clusters_for(request) -> QuerySet[Cluster]:
    """The clusters the caller may see: every cluster."""
    return Cluster.objects.all()


def cluster_get(request, name: str) -> Cluster:
    """The caller's cluster NAME; 404 when there is none."""
    cluster = clusters_for(request).filter(name=name).first()
    if cluster is None:
        raise ApiError(404, "not_found", f"No cluster named {name!r}.")
    return cluster


def row_get(request, queryset: QuerySet, pk: int, *, what: str, cluster_path: str = "cluster"):
    """The row PK of QUERYSET whose cluster (at CLUSTER_PATH) the caller sees; 404 otherwise."""
    row = (
        queryset.filter(pk=pk, **{f"{cluster_path}__in": clusters_for(request)}).first()
        if pk >= 0
        else None
    )
    if row is None:
        raise ApiError(404, "not_found", f"No {what} {pk}.")
    return row
