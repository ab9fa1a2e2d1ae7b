"""The one Docker API call the maintenance app makes: set a node's availability (drain assist).

Kept in one small function so it can be rewired to the clusters app's client.
"""

from __future__ import annotations

import importlib


def set_node_availability(*, cluster, node_id: str, availability: str) -> None:
    """Set NODE_ID's availability (active | drain) on CLUSTER through the Engine API."""
    if availability not in ("active", "drain"):
        raise ValueError(f"unsupported availability {availability!r}")
    client = _client(cluster)
    try:
        node = client.nodes.get(node_id)
        spec = dict(node.attrs["Spec"])
        spec["Availability"] = availability
        node.update(spec)
    finally:
        client.close()


def _client(cluster):
    """A docker SDK client for CLUSTER: the clusters app's when it offers one."""
    try:
        clusters_client = importlib.import_module("clusters.client")
    except ImportError:
        clusters_client = None
    factory = getattr(clusters_client, "docker_client", None) if clusters_client else None
    if factory is not None:
        return factory(cluster=cluster)
    import docker

    return docker.DockerClient(base_url=cluster.url, timeout=30)
