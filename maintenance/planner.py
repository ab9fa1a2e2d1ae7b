"""The rolling reboot plan for an occurrence. Pure code over a clusters.snapshot.Snapshot.

Workers first, then managers (the leader last), one node at a time. A node is blocked
(listed with the reason, not planned) when it is not ready, when it is a manager while
another manager is unreachable, when its loss takes a service to zero running tasks
(drain does not wait for replacements), or when its loss breaks `sizing.n-plus-one`: some of
its tasks fit on no other ready, active node their constraints allow (clusters.capacity, the
same function as the rule).
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from clusters.capacity import loss_gap
from clusters.snapshot import Node, Snapshot

JOB_MODES = {"replicated-job", "global-job"}


@dataclass(frozen=True)
class ServiceLoss:
    name: str
    tasks_lost: int
    running: int  # running tasks of the service before the drain


@dataclass(frozen=True)
class Step:
    node_id: str
    hostname: str
    role: str
    losses: list[ServiceLoss] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    rebalance: list[str] = field(default_factory=list)  # `docker service update --force ...`
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Blocked:
    node_id: str
    hostname: str
    role: str
    reasons: list[str]


@dataclass(frozen=True)
class Plan:
    steps: list[Step] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)

    def text(self) -> str:
        """The plan as plain text (reminder emails, the CLI)."""
        lines = []
        for number, step in enumerate(self.steps, start=1):
            lines.append(f"{number}. {step.hostname} ({step.role})")
            for loss in step.losses:
                lines.append(
                    f"   loses {loss.tasks_lost} of {loss.running} running task(s): {loss.name}"
                )
            for warning in step.warnings:
                lines.append(f"   warning: {warning}")
            lines.extend(f"   $ {command}" for command in step.commands)
            lines.extend(f"   $ {command}   # rebalance" for command in step.rebalance)
        for blocked in self.blocked:
            lines.append(
                f"not planned: {blocked.hostname} ({blocked.role}): " + "; ".join(blocked.reasons)
            )
        return "\n".join(lines) if lines else "No nodes known."


def _node_ref(node: Node, nodes: list[Node]) -> str:
    """The hostname when unique in the swarm, else the node id."""
    same = [other for other in nodes if other.hostname == node.hostname]
    return node.hostname if node.hostname and len(same) == 1 else node.id


def commands_for(ref: str) -> list[str]:
    quoted = shlex.quote(ref)
    return [
        f"docker node update --availability drain {quoted}",
        f"ssh {quoted} sudo systemctl reboot",
        f"until [ \"$(docker node inspect --format '{{{{.Status.State}}}}' {quoted})\" = ready ];"
        " do sleep 5; done",
        f"docker node update --availability active {quoted}",
    ]


def n_plus_one_gap(snapshot: Snapshot, node: Node) -> str | None:
    """Why losing NODE breaks n+1, or None: `sizing.n-plus-one`'s own computation
    (clusters.capacity: per node, constraints decide where tasks go, a task fits whole)."""
    return loss_gap(snapshot, node)


def plan(snapshot: Snapshot, *, skip: set[str] | frozenset[str] = frozenset()) -> Plan:
    """The rolling reboot plan; nodes in SKIP (already done) are left out."""
    services = snapshot.service_by_id()
    running = snapshot.running_tasks()
    per_service = Counter(task.service_id for task in running)
    per_node_service: dict[str, Counter] = defaultdict(Counter)
    for task in running:
        if task.node_id:
            per_node_service[task.node_id][task.service_id] += 1

    managers = [node for node in snapshot.nodes if node.is_manager]
    workers = sorted(
        (node for node in snapshot.nodes if not node.is_manager), key=lambda n: n.hostname
    )
    ordered = workers + sorted(managers, key=lambda n: (n.leader, n.hostname))

    steps: list[Step] = []
    blocked: list[Blocked] = []
    for node in ordered:
        if node.id in skip:
            continue
        reasons = []
        if node.state != "ready":
            reasons.append(f"node is {node.state}, not ready")
        if node.is_manager:
            others = [m for m in managers if m.id != node.id]
            unreachable = [
                m.hostname
                for m in others
                if m.state != "ready" or (m.reachability or "reachable") != "reachable"
            ]
            if unreachable:
                reasons.append("another manager is unreachable: " + ", ".join(unreachable))
        losses = []
        rebalance = []
        for service_id, lost in sorted(per_node_service[node.id].items()):
            service = services.get(service_id)
            if service is not None and service.mode in JOB_MODES:
                continue
            name = service.name if service else service_id
            losses.append(ServiceLoss(name=name, tasks_lost=lost, running=per_service[service_id]))
            if lost >= per_service[service_id]:
                reasons.append(f"takes service {name} to zero running tasks")
            if service is None or service.mode == "replicated":
                # the drained tasks stay on the other nodes after the node is back
                rebalance.append(f"docker service update --force {shlex.quote(name)}")
        gap = n_plus_one_gap(snapshot, node)
        if gap:
            reasons.append(f"breaks n+1: {gap}")
        if reasons:
            blocked.append(Blocked(node.id, node.hostname, node.role, reasons))
            continue
        warnings = []
        if node.is_manager and len(managers) < 3:
            warnings.append(
                "fewer than three managers: the swarm has no control plane while this node reboots"
            )
        ref = _node_ref(node, snapshot.nodes)
        steps.append(
            Step(
                node_id=node.id,
                hostname=node.hostname,
                role=node.role,
                losses=losses,
                commands=commands_for(ref),
                rebalance=rebalance,
                warnings=warnings,
            )
        )
    return Plan(steps=steps, blocked=blocked)
