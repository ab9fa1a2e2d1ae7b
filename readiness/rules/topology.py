"""Topology: enough nodes, a healthy manager quorum, nodes up, one engine version."""

from __future__ import annotations

from readiness.checks import Obj, check, ok
from readiness.registry import rule

UNFIT_MANAGER_COUNTS = {1: "no fault tolerance", 2: "no more tolerance than 1"}


@rule(
    id="topology.multi-node",
    title="At least three nodes, two of them workers",
    target="C",
    severity="critical",
    seed="000",
    rationale="""Seed 000 (Go to Production) asks for multi-node production clusters, with at
    least two worker nodes. A single node, or a lone worker, turns every reboot or host failure
    into an outage: nothing else can take over its tasks.""",
    remediation="""Add nodes until the swarm has >= 3, with >= 2 workers: on each new host run
    `docker swarm join --token <worker-token> <manager>:2377` (get the token with
    `docker swarm join-token worker` on a manager).""",
)
def multi_node(snapshot, policy, context):
    if not snapshot.nodes:
        return []
    workers = sum(1 for node in snapshot.nodes if not node.is_manager)
    total = len(snapshot.nodes)
    passed = total >= 3 and workers >= 2
    return [
        check(
            Obj.cluster(context.cluster_name),
            passed,
            f"{total} nodes, {workers} workers",
            f"only {total} nodes with {workers} workers (need >= 3 nodes and >= 2 workers)",
        )
    ]


@rule(
    id="topology.manager-count",
    title="An odd number of managers: 3, 5 or 7",
    target="C",
    severity="warning",
    seed="002, Docker Swarm admin guide",
    rationale="""Seed 002 keeps the control plane on a small fixed set of nodes, and Docker's
    Swarm admin guide explains why that set should be 3, 5 or 7 managers: Raft needs a majority,
    so one manager tolerates no loss, an even count tolerates no more losses than the odd count
    below it, and more than seven managers only slows consensus.""",
    remediation="""Promote or demote nodes to reach 3, 5 or 7 managers:
    `docker node promote <node>` / `docker node demote <node>`.""",
)
def manager_count(snapshot, policy, context):
    managers = sum(1 for node in snapshot.nodes if node.is_manager)
    if managers == 0:
        return []
    if managers in (3, 5, 7):
        message = f"{managers} managers"
    elif managers in UNFIT_MANAGER_COUNTS:
        message = f"{managers} managers: {UNFIT_MANAGER_COUNTS[managers]}"
    elif managers % 2 == 0:
        message = f"{managers} managers: an even count adds no fault tolerance"
    else:
        message = f"{managers} managers: more than 7 slows Raft consensus"
    return [check(Obj.cluster(context.cluster_name), managers in (3, 5, 7), message, message)]


@rule(
    id="topology.managers-reachable",
    title="Every manager reachable, exactly one leader",
    target="C",
    severity="critical",
    seed="Docker Swarm admin guide",
    rationale="""Docker's Swarm admin guide: the swarm keeps working only while a majority of
    managers are reachable and one of them leads. An unreachable manager eats into the fault
    tolerance, and zero or two leaders means the Raft quorum is broken.""",
    remediation="""Bring the unreachable manager back (check `docker node ls`, the host and port
    2377), or replace it: `docker node demote <node>` then `docker node rm <node>` and join a new
    manager with `docker swarm join-token manager`.""",
)
def managers_reachable(snapshot, policy, context):
    managers = [node for node in snapshot.nodes if node.is_manager]
    if not managers:
        return []
    unreachable = sorted(n.hostname for n in managers if n.reachability != "reachable")
    leaders = sum(1 for node in managers if node.leader)
    passed = not unreachable and leaders == 1
    detail = f"{len(managers)} managers, {leaders} leader(s)"
    if unreachable:
        detail += f", not reachable: {', '.join(unreachable)}"
    return [check(Obj.cluster(context.cluster_name), passed, detail, detail)]


@rule(
    id="topology.nodes-ready",
    title="Nodes ready",
    target="N",
    severity="critical",
    seed="000",
    rationale="""Seed 000 builds production on several nodes so that work keeps running; a node
    that is down outside a planned maintenance window has silently removed that capacity. A node
    down during one of the cluster's maintenance windows is expected (weekly reboots) and
    passes.""",
    remediation="""Find out why {name} is down (`docker node inspect {name}`, the host, the
    engine); once it is back it rejoins by itself. If it is gone for good:
    `docker node rm --force {name}`.""",
)
def nodes_ready(snapshot, policy, context):
    in_window = bool(context.operations and context.operations.in_window_now)
    outcomes = []
    for node in snapshot.nodes:
        obj = Obj.of_node(node)
        if node.state == "ready":
            outcomes.append(ok(obj, f"node {node.hostname} is ready"))
        else:
            outcomes.append(
                check(
                    obj,
                    in_window,
                    f"node {node.hostname} is {node.state}, inside a maintenance window",
                    f"node {node.hostname} is {node.state}",
                )
            )
    return outcomes


@rule(
    id="topology.engine-versions",
    title="One Docker Engine version on every node",
    target="C",
    severity="warning",
    seed="002",
    rationale="""Seed 002 treats production nodes as interchangeable commodities. Mixed engine
    versions break that: a task behaves differently depending on where it lands, and swarm
    features differ between versions. Finish rolling upgrades instead of leaving them halfway.""",
    remediation="""Upgrade the older engines one node at a time:
    `docker node update --availability drain <node>`, upgrade the docker-ce packages, then
    `docker node update --availability active <node>`.""",
)
def engine_versions(snapshot, policy, context):
    versions = {node.engine_version for node in snapshot.nodes if node.engine_version}
    if len(snapshot.nodes) < 2 or not versions:
        return []
    listed = ", ".join(sorted(versions))
    return [
        check(
            Obj.cluster(context.cluster_name),
            len(versions) == 1,
            f"all nodes run engine {listed}",
            f"{len(versions)} engine versions: {listed}",
        )
    ]


@rule(
    id="topology.control-plane-isolated",
    title="Managers drained in larger clusters",
    target="C",
    severity="warning",
    seed="002 (isolating the planes)",
    rationale="""Seed 002 recommends isolating the control plane once a cluster grows beyond a
    handful of nodes: applications scale on the commodity workers while a small fixed set of
    managers only orchestrates. In a swarm of six or more nodes every manager should therefore
    have availability `drain`.""",
    remediation="""Drain each manager so that no application task lands on it:
    `docker node update --availability drain <manager>`.""",
)
def control_plane_isolated(snapshot, policy, context):
    if len(snapshot.nodes) < policy.control_plane_min_nodes:
        return []
    active = sorted(
        node.hostname for node in snapshot.nodes if node.is_manager and node.availability != "drain"
    )
    return [
        check(
            Obj.cluster(context.cluster_name),
            not active,
            f"all managers drained in a {len(snapshot.nodes)}-node cluster",
            f"managers not drained in a {len(snapshot.nodes)}-node cluster: {', '.join(active)}",
        )
    ]
