"""Watchkeeper's Swarm lab: a real multi-node Docker Swarm in namespaces on one Linux host."""

from lab.core import Lab, host_support
from lab.spec import DEFAULT_IMAGE, LabError, NodeSpec, ServiceSpec, default_nodes, ha_nodes
from lab.tls import TLSFiles

__all__ = [
    "DEFAULT_IMAGE",
    "Lab",
    "LabError",
    "NodeSpec",
    "ServiceSpec",
    "TLSFiles",
    "default_nodes",
    "ha_nodes",
    "host_support",
]
