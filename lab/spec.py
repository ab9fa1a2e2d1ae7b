"""Typed specs for lab nodes and services."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_IMAGE = "wk-busybox:1.35"

# A long sleep that ends at once on SIGTERM (a bare `sleep` as PID 1 ignores it).
SLEEP_FOREVER = ("sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait")

Role = Literal["manager", "worker"]


class LabError(RuntimeError):
    """The lab could not be built, driven or torn down."""


def host_cpus() -> int:
    """Return how many CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class NodeSpec:
    """One swarm node: hostname, role and the size the swarm will see."""

    hostname: str
    role: Role = "worker"
    cpus: int = 1
    memory_gib: float = 1.0

    def __post_init__(self) -> None:
        """Reject sizes this machine cannot shape."""
        if self.role not in ("manager", "worker"):
            raise LabError(f"{self.hostname}: role must be manager or worker")
        if not 1 <= self.cpus <= host_cpus():
            raise LabError(
                f"{self.hostname}: cpus={self.cpus}, this machine allows 1..{host_cpus()}"
            )
        if self.memory_gib <= 0:
            raise LabError(f"{self.hostname}: memory_gib must be positive")

    @property
    def memory_bytes(self) -> int:
        """Return the memory the manager reports for this node, in bytes."""
        return self.memory_kib * 1024

    @property
    def memory_kib(self) -> int:
        """Return the MemTotal written into the node's /proc/meminfo."""
        return int(self.memory_gib * 1024 * 1024)


def default_nodes() -> list[NodeSpec]:
    """Return the default layout: one manager, two workers of different sizes."""
    big = min(2, host_cpus())
    return [
        NodeSpec("wk-manager-1", "manager", cpus=big, memory_gib=4),
        NodeSpec("wk-worker-1", "worker", cpus=big, memory_gib=8),
        NodeSpec("wk-worker-2", "worker", cpus=1, memory_gib=2),
    ]


def ha_nodes() -> list[NodeSpec]:
    """Return a three-manager, three-worker layout."""
    big = min(2, host_cpus())
    managers = [NodeSpec(f"wk-manager-{i}", "manager", cpus=1, memory_gib=2) for i in (1, 2, 3)]
    workers = [NodeSpec(f"wk-worker-{i}", "worker", cpus=big, memory_gib=4 * i) for i in (1, 2, 3)]
    return managers + workers


@dataclass
class ServiceSpec:
    """A swarm service; fields map onto docker SDK `services.create` arguments."""

    name: str
    image: str = DEFAULT_IMAGE
    command: list[str] = field(default_factory=lambda: list(SLEEP_FOREVER))
    replicas: int | None = 1
    mode: Literal["replicated", "global"] = "replicated"
    labels: dict[str, str] = field(default_factory=dict)
    container_labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    memory_limit: int | None = None
    memory_reservation: int | None = None
    cpu_limit: float | None = None
    healthcheck: list[str] | None = None
    health_interval_s: float = 2.0
    mounts: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None
    restart_policy: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
