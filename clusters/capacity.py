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


def homeless_tasks(snapshot: Snapshot, lost: Node) -> list[Homeless]:
    """The tasks running on LOST that no other node has room for, grouped by service."""
    services = snapshot.service_by_id()
    usable = [
        n
        for n in snapshot.nodes
        if n.id != lost.id and n.state == "ready" and n.availability == "active"
    ]
    free: dict[str, list[float]] = {}
    for node in usable:
        cpu, memory = float(node.cpus), float(node.memory_bytes)
        for task in snapshot.running_tasks_on_node(node.id):
            task_cpu, task_memory = task.reserved(services.get(task.service_id))
            cpu -= task_cpu
            memory -= task_memory
        free[node.id] = [cpu, memory]

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
            eligible_by_service[service.id] = placeable_nodes(service, usable)
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


def loss_gap(snapshot: Snapshot, lost: Node) -> str | None:
    """Why losing LOST breaks n+1 (some of its tasks find no room elsewhere), or None."""
    homeless = homeless_tasks(snapshot, lost)
    return "; ".join(h.text() for h in homeless) if homeless else None
