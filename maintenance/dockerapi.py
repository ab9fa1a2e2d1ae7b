"""The one Docker API call the maintenance app makes: set a node's availability (drain assist).

It goes through the clusters app, which owns the Engine API client and the cluster's
(encrypted) TLS credentials; clusters.registration.node_availability_set checks the availability.
Drain assist calls this module's name so that tests can replace the Engine API in one place.
"""

from __future__ import annotations

from clusters.registration import node_availability_set


def set_node_availability(*, cluster, node_id: str, availability: str) -> None:
    """Set NODE_ID's availability (active | drain) on CLUSTER through the Engine API."""
    node_availability_set(cluster=cluster, node_id=node_id, availability=availability)
