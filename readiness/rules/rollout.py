"""Rollout: replicas, spread, update and restart policies, placement that can be met."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import constraint_matches, is_job, placeable_nodes, single_node_pin


@rule(
    id="rollout.replicas",
    title="At least two replicas",
    target="S",
    severity="warning",
    seed="001",
    rationale="""Seed 001 (Design a resilient production environment): containers get high
    availability by scaling horizontally and rolling deployments, not by keeping one process
    alive. With a single replica every update, crash or node reboot is downtime.""",
    remediation="""`docker service scale {name}=2` (Compose: `deploy: replicas: 2`); the
    application must tolerate more than one instance.""",
    alone=True,
)
def replicas(snapshot, policy, context):
    return [
        check(
            Obj.of_service(service),
            (service.replicas or 0) >= 2,
            f"service {service.name}: {service.replicas} replicas",
            f"service {service.name}: {service.replicas} replica(s)",
        )
        for service in snapshot.services
        if service.mode == "replicated"
    ]


@rule(
    id="rollout.spread",
    title="Replicas on more than one node",
    target="S",
    severity="warning",
    seed="001",
    rationale="""Seed 001 relies on horizontal scaling for availability. Two replicas on the same
    node fall together when that node reboots or fails, so the redundancy is only on paper.""",
    remediation="""Spread the tasks: `docker service update --placement-pref-add
    spread=node.id --replicas-max-per-node 1 {name}` (Compose: `deploy: placement:
    max_replicas_per_node: 1`), and make sure enough nodes satisfy its constraints.""",
    runtime=True,
)
def spread(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        running = snapshot.running_tasks_of_service(service.id)
        if len(running) < 2:
            continue
        nodes = {t.node_id for t in running}
        message = f"service {service.name}: {len(running)} running tasks on {len(nodes)} node(s)"
        outcomes.append(check(Obj.of_service(service), len(nodes) >= 2, message, message))
    return outcomes


@rule(
    id="rollout.update-failure-action",
    title="Failed updates roll back or pause",
    target="S",
    severity="warning",
    seed="001",
    rationale="""Seed 001 builds on rolling deployments. A rollout that keeps going after tasks
    fail (`continue`) replaces healthy tasks with broken ones; `rollback` (or at least `pause`)
    stops the damage. Swarm's default, when nothing is set, is `pause`.""",
    remediation="""`docker service update --update-failure-action rollback --update-monitor 30s
    {name}` (Compose: `deploy: update_config: failure_action: rollback`).""",
    alone=True,
)
def update_failure_action(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        action = service.update_config.failure_action if service.update_config else None
        shown = action or "pause (default)"
        outcomes.append(
            check(
                Obj.of_service(service),
                (action or "pause") in ("rollback", "pause"),
                f"service {service.name}: update failure action {shown}",
                f"service {service.name}: update failure action {shown}",
            )
        )
    return outcomes


@rule(
    id="rollout.update-order",
    title="Updates start the new task first",
    target="S",
    severity="info",
    seed="001",
    rationale="""Seed 001 wants rolling deployments without downtime. With `start-first` the new
    task runs before the old one stops, so capacity never drops during an update; stateful
    services with a single writer may rightly keep `stop-first`, hence information only.""",
    remediation="""`docker service update --update-order start-first {name}` (Compose: `deploy:
    update_config: order: start-first`).""",
    alone=True,
)
def update_order(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        order = (service.update_config.order if service.update_config else None) or "stop-first"
        message = f"service {service.name}: update order {order}"
        outcomes.append(check(Obj.of_service(service), order == "start-first", message, message))
    return outcomes


@rule(
    id="rollout.restart-policy",
    title="Tasks restart when they stop",
    target="S",
    severity="warning",
    seed="001",
    rationale="""Seed 001 expects containers to be short-lived and replaced quickly after a
    failure. A restart condition of `none` leaves a crashed task dead until someone notices.""",
    remediation="""`docker service update --restart-condition any {name}` (Compose: `deploy:
    restart_policy: condition: any`).""",
    alone=True,
)
def restart_policy(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        condition = service.restart_condition or "any"
        message = f"service {service.name}: restart condition {condition}"
        outcomes.append(
            check(
                Obj.of_service(service),
                condition in ("any", "on-failure"),
                message,
                message,
            )
        )
    return outcomes


@rule(
    id="rollout.update-stuck",
    title="No paused update",
    target="S",
    severity="critical",
    seed="001",
    rationale="""Seed 001 depends on rolling deployments completing. An update paused by a
    failure (or a paused rollback) leaves the service half-updated, often with mixed versions,
    until someone acts.""",
    remediation="""Read why: `docker service inspect --format '{{json .UpdateStatus}}' {name}`;
    then fix and `docker service update --image <good-image> {name}` or roll back with
    `docker service rollback {name}`.""",
    runtime=True,
    alone=True,
)
def update_stuck(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        state = service.update_state or "none"
        detail = f": {service.update_message}" if service.update_message else ""
        outcomes.append(
            check(
                Obj.of_service(service),
                state not in ("paused", "rollback_paused"),
                f"service {service.name}: update state {state}",
                f"service {service.name}: update state {state}{detail}",
            )
        )
    return outcomes


def _placement_verdict(constraints: tuple[str, ...], nodes: list) -> tuple[list[str], list]:
    """(constraints no node meets, the nodes that meet them all)."""
    unmet = [c for c in constraints if not any(constraint_matches(n, c) for n in nodes)]
    fitting = [n for n in nodes if all(constraint_matches(n, c) for c in constraints)]
    return unmet, fitting


@rule(
    id="rollout.constraints-satisfiable",
    title="Placement constraints match a ready node",
    target="S",
    severity="critical",
    seed="000",
    rationale="""Seed 000 recommends placement constraints (`node.role != manager`,
    `node.labels.database == true`); they only work if some ready, active node satisfies them.
    Otherwise tasks stay pending forever, which the next reschedule turns into an outage.
    Constraints are read as swarmkit reads them (case-insensitive keys and values, a missing
    label equals "", `node.ip` with an address or CIDR). A node drained or down during one of
    the cluster's maintenance windows still counts: it comes back.""",
    remediation="""Label a ready node to match (`docker node update --label-add database=true
    <node>`), or fix the constraint: `docker service update --constraint-rm <old>
    --constraint-add <new> {name}`.""",
    runtime=True,
)
def constraints_satisfiable(snapshot, policy, context):
    in_window = bool(context.operations and context.operations.in_window_now)
    usable = [n for n in snapshot.nodes if n.state == "ready" and n.availability == "active"]
    resting = [n for n in snapshot.nodes if n not in usable] if in_window else []
    verdicts: dict[tuple[str, ...], tuple] = {}  # services share constraints
    outcomes = []
    for service in snapshot.services:
        if not service.constraints:
            continue
        key = tuple(service.constraints)
        if key not in verdicts:
            unmet, fitting = _placement_verdict(key, usable)
            later = _placement_verdict(key, usable + resting)[1] if not fitting else []
            verdicts[key] = (unmet, fitting, later)
        unmet, fitting, later = verdicts[key]
        if fitting:
            message = f"service {service.name}: constraints met by a ready node"
        elif later:
            message = (
                f"service {service.name}: constraints met by "
                f"{', '.join(sorted(n.hostname for n in later))}, "
                "drained or down inside a maintenance window (it comes back)"
            )
        else:
            message = (
                f"service {service.name}: no ready, active node satisfies "
                f"{', '.join(unmet or service.constraints)}"
            )
        outcomes.append(check(Obj.of_service(service), bool(fitting or later), message, message))
    return outcomes


@rule(
    id="rollout.single-node",
    title="No service tied to one node unless documented",
    target="S",
    severity="warning",
    seed="000, 001",
    rationale="""Seed 001 builds availability on tasks that can run elsewhere, and seed 000's
    weekly reboots take every node down in turn. A service whose constraints allow one node only
    (`node.hostname==`, `node.id==`, or constraints only one node meets) is down whenever that
    node is. Where that is deliberate (a single-writer database on its own disk), document it
    with the service label `watchkeeper.singleton=true`.""",
    remediation="""Let a second node run it (`docker service update --constraint-rm
    'node.hostname==<node>' --constraint-add 'node.labels.<role>==true' {name}` and label two
    nodes), or document the exception: `docker service update --label-add
    watchkeeper.singleton=true {name}` (Compose: `deploy: labels:
    [watchkeeper.singleton=true]`).""",
)
def single_node(snapshot, policy, context):
    outcomes = []
    placed: dict[tuple, tuple[int, str]] = {}  # constraints -> (nodes allowed, the first's name)
    for service in snapshot.services:
        if service.mode != "replicated":
            continue  # global services and jobs: one task per node or run to completion
        pin = single_node_pin(service)
        if snapshot.nodes:
            key = tuple(service.constraints)
            if key not in placed:
                nodes = placeable_nodes(service, snapshot.nodes)
                placed[key] = (len(nodes), nodes[0].hostname if nodes else "")
            count, first = placed[key]
            tied = count == 1
            where = first if tied else f"{count} nodes"
        else:  # the lint: only an explicit pin tells
            tied, where = pin is not None, pin or ""
        if tied and service.is_singleton:
            passed, message = True, f"service {service.name}: documented singleton on {where}"
        elif tied:
            passed = False
            message = (
                f"service {service.name}: every task depends on one node ({where}) and the "
                "service is not labelled watchkeeper.singleton=true"
            )
        else:
            passed = True
            message = f"service {service.name} may run on {where or 'any node'}"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes


@rule(
    id="rollout.update-parallelism",
    title="Updates replace tasks a few at a time",
    target="S",
    severity="warning",
    seed="001",
    rationale="""Seed 001 relies on rolling deployments. An update parallelism of 0 replaces
    every task at once: a bad image takes the whole service down before the failure action can
    stop it. Swarm's default (when nothing is set) is one at a time.""",
    remediation="""`docker service update --update-parallelism 1 --update-delay 10s {name}`
    (Compose: `deploy: update_config: parallelism: 1`).""",
    alone=True,
)
def update_parallelism(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if service.mode != "replicated":
            continue
        parallelism = service.update_config.parallelism if service.update_config else None
        shown = "1 (default)" if parallelism is None else str(parallelism)
        message = f"service {service.name}: update parallelism {shown}"
        if parallelism == 0:
            message += " (all tasks at once)"
        outcomes.append(check(Obj.of_service(service), parallelism != 0, message, message))
    return outcomes


@rule(
    id="rollout.rollback-config",
    title="Rollback configured",
    target="S",
    severity="info",
    seed="001",
    rationale="""Seed 001 wants a failed rollout to be undone safely. Without a rollback
    configuration a rollback uses Swarm's defaults (one task at a time, pause on failure, no
    monitor period), which is rarely what the update itself was tuned for.""",
    remediation="""`docker service update --rollback-parallelism 1 --rollback-monitor 30s
    --rollback-failure-action pause --rollback-order start-first {name}` (Compose: `deploy:
    rollback_config: {parallelism: 1, order: start-first}`).""",
    alone=True,
)
def rollback_config(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if service.mode != "replicated":
            continue
        present = service.rollback_config is not None
        outcomes.append(
            check(
                Obj.of_service(service),
                present,
                f"service {service.name} has a rollback configuration",
                f"service {service.name} has no rollback configuration (Swarm defaults apply)",
            )
        )
    return outcomes


@rule(
    id="rollout.host-port-placement",
    title="Host-mode ports come with a placement",
    target="S",
    severity="warning",
    seed="000",
    rationale="""A port published in host mode bypasses the routing mesh: it is open only on
    the nodes where a task runs, and two tasks cannot share it on one node. Seed 000's placement
    constraints are what make that predictable: without one, tasks (and the port) wander to any
    node and a second task on the same node fails to start. Global services run one task per
    node and are exempt.""",
    remediation="""Add a placement: `docker service update --constraint-add
    'node.labels.edge==true' --replicas-max-per-node 1 {name}`, or run it `--mode global`
    (Compose: `deploy: placement: constraints: [...]`, `max_replicas_per_node: 1`).""",
    alone=True,
)
def host_port_placement(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if not service.host_ports or service.mode == "global":
            continue
        ports = ", ".join(str(port) for port in service.host_ports)
        outcomes.append(
            check(
                Obj.of_service(service),
                bool(service.constraints),
                f"service {service.name}: host-mode port(s) {ports} with constraints "
                f"{', '.join(service.constraints)}",
                f"service {service.name}: host-mode port(s) {ports} without a placement constraint",
            )
        )
    return outcomes
