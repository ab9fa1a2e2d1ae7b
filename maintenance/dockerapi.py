"""The one Docker API call the maintenance app makes: set a node's availability (drain assist).

It goes through the clusters app, which owns the Engine API client and the cluster's
(encrypted) TLS credentials.
"""

from __future__ import annotations

from clusters import registration as cluster_services


def set_node_availability(*, cluster, node_id: str, availability: str) -> None:
    """Set NODE_ID's availability (active | drain) on CLUSTER through the Engine API."""
    if availability not in ("active", "drain"):
        raise ValueError(f"unsupported availability {availability!r}")
    cluster_services.node_availability_set(
        cluster=cluster, node_id=node_id, availability=availability
    )
