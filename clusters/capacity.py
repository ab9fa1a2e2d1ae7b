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
        self._order = {node.id: index for index, node in enumerate(self.usable)}
        self._groups: dict[tuple, tuple[list[Node], frozenset[str], list[Node]]] = {}

    def group(self, service) -> tuple[list[Node], frozenset[str], list[Node]]:
        """The usable nodes SERVICE's constraints allow: in swarm order, their ids, and ranked
        by free memory, free CPU, hostname (most first; swarm order breaks ties). Computed once
        per constraint set: the nodes a constraint allows depend on nothing else."""
        key = tuple(service.constraints or ())
        found = self._groups.get(key)
        if found is None:
            nodes = placeable_nodes(service, self.usable)
            ranked = sorted(nodes, key=lambda n: self._rank(n, *self.free[n.id]), reverse=True)
            found = self._groups[key] = (nodes, frozenset(n.id for n in nodes), ranked)
        return found

    def _rank(self, node: Node, cpu: float, memory: float) -> tuple:
        return (memory, cpu, node.hostname, -self._order[node.id])

    def eligible(self, service, lost: Node) -> list[Node]:
        """The usable nodes other than LOST that SERVICE's constraints allow."""
        return [n for n in self.group(service)[0] if n.id != lost.id]


def homeless_tasks(snapshot: Snapshot, lost: Node, base: Base | None = None) -> list[Homeless]:
    """The tasks running on LOST that no other node has room for, grouped by service (BASE: the
    snapshot's shared arithmetic, when asked for many nodes).

    Each task goes to the eligible node with the most free memory (then CPU, hostname) that
    fits it. Only the nodes this question placed tasks on differ from BASE's free capacity, so
    the search walks the nodes ranked once per constraint set and stops at the first untouched
    one that fits, then compares the few touched ones: a poll asks this for every node of the
    swarm, and walking every node for every task grew with nodes times tasks.
    """
    base = base or Base(snapshot)
    services = base.services

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

    touched: dict[str, tuple[Node, list[float]]] = {}  # node id -> (node, [cpu, memory] free)
    homeless: dict[str, Homeless] = {}
    for memory, cpu, service in moving:
        nodes, ids, ranked = base.group(service)
        if not ids - {lost.id}:
            continue  # no other node may run it: not a capacity question
        target, best = None, None
        for node in ranked:
            free_cpu, free_memory = base.free[node.id]
            if free_memory < memory:
                break  # the rest have less memory still
            if node.id != lost.id and node.id not in touched and free_cpu + _EPSILON >= cpu:
                target, best = node, base._rank(node, free_cpu, free_memory)
                break
        for node_id, (node, (free_cpu, free_memory)) in touched.items():
            if node_id in ids and free_cpu + _EPSILON >= cpu and free_memory >= memory:
                rank = base._rank(node, free_cpu, free_memory)
                if best is None or rank > best:
                    target, best = node, rank
        if target is not None:
            room = touched.setdefault(target.id, (target, list(base.free[target.id])))[1]
            room[0] -= cpu
            room[1] -= memory
            continue
        known = homeless.get(service.id)
        homeless[service.id] = Homeless(
            service=service.name,
            tasks=(known.tasks if known else 0) + 1,
            cpu=cpu,
            memory=memory,
            candidates=tuple(sorted(n.hostname for n in nodes if n.id != lost.id)),
        )
    return sorted(homeless.values(), key=lambda h: h.service)


def loss_gap(snapshot: Snapshot, lost: Node, base: Base | None = None) -> str | None:
    """Why losing LOST breaks n+1 (some of its tasks find no room elsewhere), or None."""
    homeless = homeless_tasks(snapshot, lost, base)
    return "; ".join(h.text() for h in homeless) if homeless else None
