"""What changed: the failures that appeared and were resolved over a span, summed from the
FailureChange rows each evaluation writes (readiness.services). Evaluations are thinned to one
a day after WATCHKEEPER_DETAIL_HOURS and checks kept only for the latest ones; these rows stay
CHANGES_KEPT (8 days), so a week's changes stay exact whatever the thinning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from readiness.models import FailureChange

Key = tuple[str, str, str]  # rule, object type, object name


@dataclass
class NetChanges:
    """Failures new since the span began and still failing, and failures failing then and
    resolved (or waived) since; one that appeared then went (or the reverse) is neither.
    Key -> the message the failure appeared with ("" for resolved ones)."""

    new: dict[Key, str] = field(default_factory=dict)
    resolved: dict[Key, str] = field(default_factory=dict)


def net_changes(
    *, cluster_ids, since: datetime, severity: str | None = None
) -> dict[int, NetChanges]:
    """cluster id -> its NetChanges since SINCE (only SEVERITY's, if given), in one query;
    clusters without a change are left out."""
    rows = FailureChange.objects.filter(cluster_id__in=list(cluster_ids), at__gte=since)
    if severity is not None:
        rows = rows.filter(severity=severity)
    columns = ("cluster_id", "appeared", "rule", "object_type", "object_name", "message")
    result: dict[int, NetChanges] = {}
    for cluster_id, appeared, rule, kind, name, message in rows.order_by("at", "id").values_list(
        *columns
    ):
        net = result.get(cluster_id) or result.setdefault(cluster_id, NetChanges())
        key = (rule, kind, name)
        if appeared:
            if net.resolved.pop(key, None) is None:
                net.new[key] = message
        elif net.new.pop(key, None) is None:
            net.resolved[key] = message
    return result
