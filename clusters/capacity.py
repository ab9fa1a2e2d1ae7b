"""Room to lose one node: where its tasks could go. Pure code over a clusters.snapshot.Snapshot.

The one definition shared by the `sizing.n-plus-one` rule and the reboot planner
(maintenance.planner). Computed per node, as the scheduler places tasks:

- a task moves only to a node that is ready and active and meets its service's placement
  constraints (swarmkit semantics), so an active manager takes only the services that may run
  there;
- a task must fit whole on one node: its CPU and memory reservations within that node's
  free capacity (capacity minus the reservations already running there);
- global tasks never move (each node runs its own), jobs are left out, and a task that no other
  node may run at all is not a capacity question (see `rollout.single-node`).

Tasks are placed largest first, each on the eligible node with the most free memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.placement import JOB_MODES, human_bytes, placeable_nodes
from clusters.snapshot import Node, Snapshot

_EPSILON = 1e-9


@dataclass(frozen=True)
class Homeless:
    """Tasks of one service that find no room when a node is lost."""

    service: str
    tasks: int
    cpu: float  # reserved by each task
    memory: int  # bytes reserved by each task
    candidates: tuple[str, ...]  # hostnames that may run the service

    def text(self) -> str:
        where = ", ".join(self.candidates)
        return (
            f"{self.tasks} task(s) of {self.service} ({self.cpu:g} CPU, "
            f"{human_bytes(self.memory)} each) fit on none of {where}"
        )


class Base:
    """What every "if this node went" question of one snapshot shares, computed once: the
    services by id, each ready and active node's free CPU and memory, and per service the nodes
    its constraints allow (n+1 asks it for every node of the swarm)."""

    def __init__(self, snapshot: Snapshot):
        self.services = snapshot.service_by_id()
        self.usable = [
            n for n in snapshot.nodes if n.state == "ready" and n.availability == "active"
        ]
        self.free: dict[str, tuple[float, float]] = {}
        for node in self.usable:
            cpu, memory = float(node.cpus), float(node.memory_bytes)
            for task in snapshot.running_tasks_on_node(node.id):
                task_cpu, task_memory = task.reserved(self.services.get(task.service_id))
                cpu -= task_cpu
                memory -= task_memory
            self.free[node.id] = (cpu, memory)
        self._eligible: dict[str, list[Node]] = {}

    def eligible(self, service, lost: Node) -> list[Node]:
        """The usable nodes other than LOST that SERVICE's constraints allow."""
        if service.id not in self._eligible:
            self._eligible[service.id] = placeable_nodes(service, self.usable)
        return [n for n in self._eligible[service.id] if n.id != lost.id]


def homeless_tasks(snapshot: Snapshot, lost: Node, base: Base | None = None) -> list[Homeless]:
    """The tasks running on LOST that no other node has room for, grouped by service (BASE: the
    snapshot's shared arithmetic, when asked for many nodes)."""
    base = base or Base(snapshot)
    services = base.services
    free = {node_id: list(room) for node_id, room in base.free.items() if node_id != lost.id}

    moving = []
    for task in snapshot.running_tasks_on_node(lost.id):
        service = services.get(task.service_id)
        if service is None or service.mode in JOB_MODES or service.mode == "global":
            continue
        cpu, memory = task.reserved(service)
        if cpu <= 0 and memory <= 0:
            continue  # reserves nothing: the scheduler can put it anywhere it may run
        moving.append((memory, cpu, service))
    moving.sort(key=lambda item: (item[0], item[1], item[2].name), reverse=True)

    eligible_by_service: dict[str, list[Node]] = {}
    homeless: dict[str, Homeless] = {}
    for memory, cpu, service in moving:
        if service.id not in eligible_by_service:
            eligible_by_service[service.id] = base.eligible(service, lost)
        eligible = eligible_by_service[service.id]
        if not eligible:
            continue  # no other node may run it: not a capacity question
        fitting = [
            n for n in eligible if free[n.id][0] + _EPSILON >= cpu and free[n.id][1] >= memory
        ]
        if fitting:
            target = max(fitting, key=lambda n: (free[n.id][1], free[n.id][0], n.hostname))
            free[target.id][0] -= cpu
            free[target.id][1] -= memory
            continue
        known = homeless.get(service.id)
        homeless[service.id] = Homeless(
            service=service.name,
            tasks=(known.tasks if known else 0) + 1,
            cpu=cpu,
            memory=memory,
            candidates=tuple(sorted(n.hostname for n in eligible)),
        )
    return sorted(homeless.values(), key=lambda h: h.service)


def loss_gap(snapshot: Snapshot, lost: Node, base: Base | None = None) -> str | None:
    """Why losing LOST breaks n+1 (some of its tasks find no room elsewhere), or None."""
    homeless = homeless_tasks(snapshot, lost, base)
    return "; ".join(h.text() for h in homeless) if homeless else None
