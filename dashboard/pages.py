"""Read-only assembly of the dashboard's pages from each app's selectors.

Views call one function here; it gathers, in a fixed number of queries whatever the number of
clusters, what the clusters, readiness and maintenance apps say about each cluster. The fleet page
lives in dashboard.fleet, the cluster page in dashboard.cluster_page.
"""

from .cluster_page import (
    CategoryFindings,
    ClusterPage,
    NodeRow,
    PageQuery,
    PollProgress,
    RuleFindings,
    cluster_page,
)
from .fleet import (
    GRADES,
    FleetFilter,
    FleetRow,
    NextWindow,
    fleet_rows,
    row_html,
)

__all__ = [
    "GRADES",
    "CategoryFindings",
    "ClusterPage",
    "FleetFilter",
    "FleetRow",
    "NextWindow",
    "NodeRow",
    "PageQuery",
    "PollProgress",
    "RuleFindings",
    "cluster_page",
    "fleet_rows",
    "row_html",
]
