"""Thinning of per-cluster history tables (snapshots, evaluations) by watchkeeper.retention."""

from datetime import datetime, timedelta

from django.conf import settings

from watchkeeper.retention import to_prune


def detail_cutoff(now: datetime) -> datetime:
    """Rows newer than this keep all their detail."""
    return now - timedelta(hours=settings.WATCHKEEPER_DETAIL_HOURS)


def thin_per_cluster(model, *, time_field: str, now: datetime, keep: set[int]) -> int:
    """Delete MODEL rows past the detail window but the first of each day (and KEEP), per cluster.

    Returns how many MODEL rows were deleted (rows deleted by cascade are not counted).
    """
    detail = now - detail_cutoff(now)
    doomed: list[int] = []
    # order_by(): the models' default ordering would make DISTINCT one row per history row.
    for cluster_id in model.objects.order_by().values_list("cluster_id", flat=True).distinct():
        rows = model.objects.filter(cluster_id=cluster_id, **{f"{time_field}__lt": now - detail})
        doomed += to_prune(
            rows.values_list("id", time_field),
            now=now,
            detail=detail,
            days=settings.WATCHKEEPER_HISTORY_DAYS,
        )
    doomed = [pk for pk in doomed if pk not in keep]
    deleted = 0
    for start in range(0, len(doomed), 500):
        _, per_model = model.objects.filter(pk__in=doomed[start : start + 500]).delete()
        deleted += per_model.get(model._meta.label, 0)
    return deleted
