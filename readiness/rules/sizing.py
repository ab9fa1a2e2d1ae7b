"""Sizing: node tiers, reservation pressure and room to lose a worker."""

from __future__ import annotations

from clusters import capacity
from clusters.capacity import loss_gap
from readiness.checks import Obj, check
from readiness.policy import TIER_ORDER
from readiness.registry import rule
from readiness.rules._util import human_bytes


def _tier_check(node, policy, minimum: str):
    tier = policy.tier_of(node.cpus, node.memory_bytes)
    passed = TIER_ORDER.index(tier) >= TIER_ORDER.index(minimum)
    observed = f"{node.cpus:g} vCPU, {human_bytes(node.memory_bytes)}"
    return check(
        Obj.of_node(node),
        passed,
        f"{node.role} {node.hostname} is {tier} ({observed})",
        f"{node.role} {node.hostname} is {tier} ({observed}); needs {minimum} or larger",
    )


@rule(
    id="sizing.manager-tier",
    title="Managers are medium or larger",
    target="N",
    severity="critical",
    seed="000",
    rationale="""Seed 000 says production managers should be at least medium (2 vCPU, 4 GB):
    the manager orchestrates the whole swarm, and when its resources run out scheduling slows
    down and the services behind it become unavailable.""",
    remediation="""Resize the host behind {name} to at least 2 vCPU and 4 GB, or add a larger
    manager (`docker swarm join-token manager`) and `docker node demote {name}`.""",
)
def manager_tier(snapshot, policy, context):
    return [
        _tier_check(node, policy, policy.manager_min_tier)
        for node in snapshot.nodes
        if node.is_manager
    ]


@rule(
    id="sizing.worker-tier",
    title="Workers are medium or larger",
    target="N",
    severity="warning",
    seed="000",
    rationale="""Seed 000 keeps small nodes for staging and puts production work on at least
    medium workers, scaling to large or x-large as load grows: small workers leave no headroom
    for rescheduled tasks.""",
    remediation="""Resize the host behind {name} to at least 2 vCPU and 4 GB (large: 8 GB), or
    replace it: join a bigger worker, then `docker node update --availability drain {name}` and
    `docker node rm {name}` once it is empty.""",
)
def worker_tier(snapshot, policy, context):
    return [
        _tier_check(node, policy, policy.worker_min_tier)
        for node in snapshot.nodes
        if not node.is_manager
    ]


def _reservations(tasks, services) -> tuple[float, int]:
    cpu, memory = 0.0, 0
    for task in tasks:
        task_cpu, task_memory = task.reserved(services.get(task.service_id))
        cpu += task_cpu
        memory += task_memory
    return cpu, memory


@rule(
    id="sizing.reservation-pressure",
    title="Reservations leave 20% of each node free",
    target="N",
    severity="warning",
    seed="000",
    rationale="""Seed 000 sizes nodes for the load they carry and warns that exhausted resources
    make Docker struggle. A node whose running tasks reserve more than 80% of its CPU or memory
    has no room left for the orchestrator, for spikes, or for tasks moved from a rebooting node.""",
    remediation="""Add capacity or move work off {name}: lower over-generous reservations
    (`docker service update --reserve-memory 256M --reserve-cpu 0.25 <service>`), add workers, or
    resize the host.""",
)
def reservation_pressure(snapshot, policy, context):
    services = snapshot.service_by_id()
    limit = policy.reservation_max_percent
    outcomes = []
    for node in snapshot.nodes:
        if node.state != "ready" or node.cpus <= 0 or node.memory_bytes <= 0:
            continue
        cpu, memory = _reservations(snapshot.running_tasks_on_node(node.id), services)
        cpu_pct = 100 * cpu / node.cpus
        memory_pct = 100 * memory / node.memory_bytes
        observed = f"reservations use {cpu_pct:.0f}% CPU and {memory_pct:.0f}% memory"
        outcomes.append(
            check(
                Obj.of_node(node),
                cpu_pct <= limit and memory_pct <= limit,
                f"node {node.hostname}: {observed}",
                f"node {node.hostname}: {observed} (limit {limit}%)",
            )
        )
    return outcomes


@rule(
    id="sizing.n-plus-one",
    title="Room to lose any one node",
    target="C",
    severity="warning",
    seed="000 (weekly reboots)",
    rationale="""Seed 000 asks for a weekly reboot of every node. Rebooting one node at a time
    only works if the others can take its tasks. Counted per node as the scheduler places them:
    a task moves only to a ready, active node its constraints allow (an active manager counts
    only for services that may run there), it must fit whole on one node, and global tasks never
    move. The reboot planner uses the same computation.""",
    remediation="""Add a worker (`docker swarm join --token <worker-token> <manager>:2377`),
    resize the nodes the constrained services may use, or lower over-generous reservations
    until every node's tasks fit elsewhere.""",
    runtime=True,
)
def n_plus_one(snapshot, policy, context):
    candidates = [n for n in snapshot.nodes if n.state == "ready"]
    if len([n for n in candidates if n.availability == "active"]) < 2:
        return []
    gaps = []
    base = capacity.Base(snapshot)
    for node in sorted(candidates, key=lambda n: n.hostname):
        gap = loss_gap(snapshot, node, base)
        if gap:
            gaps.append(f"losing {node.hostname}: {gap}")
    return [
        check(
            Obj.cluster(context.cluster_name),
            not gaps,
            f"the tasks of each of {len(candidates)} ready nodes fit on the others",
            "; ".join(gaps),
        )
    ]
