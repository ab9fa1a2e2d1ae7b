"""Rollout: replicas, spread, update and restart policies, placement that can be met."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import constraint_matches, is_job


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


def _placement_verdict(constraints: tuple[str, ...], usable: list) -> tuple[list[str], bool]:
    """(constraints no usable node meets, whether one usable node meets them all)."""
    unmet = [c for c in constraints if not any(constraint_matches(n, c) for n in usable)]
    all_met = any(all(constraint_matches(n, c) for c in constraints) for n in usable)
    return unmet, all_met


@rule(
    id="rollout.constraints-satisfiable",
    title="Placement constraints match a ready node",
    target="S",
    severity="critical",
    seed="000",
    rationale="""Seed 000 recommends placement constraints (`node.role != manager`,
    `node.labels.database == true`); they only work if some ready, active node satisfies them.
    Otherwise tasks stay pending forever, which the next reschedule turns into an outage.""",
    remediation="""Label a ready node to match (`docker node update --label-add database=true
    <node>`), or fix the constraint: `docker service update --constraint-rm <old>
    --constraint-add <new> {name}`.""",
    runtime=True,
)
def constraints_satisfiable(snapshot, policy, context):
    usable = [n for n in snapshot.nodes if n.state == "ready" and n.availability == "active"]
    verdicts: dict[tuple[str, ...], tuple[list[str], bool]] = {}  # services share constraints
    outcomes = []
    for service in snapshot.services:
        if not service.constraints:
            continue
        key = tuple(service.constraints)
        if key not in verdicts:
            verdicts[key] = _placement_verdict(key, usable)
        unmet, all_met = verdicts[key]
        passed = not unmet and all_met
        outcomes.append(
            check(
                Obj.of_service(service),
                passed,
                f"service {service.name}: constraints met by a ready node",
                f"service {service.name}: no ready, active node satisfies "
                f"{', '.join(unmet or service.constraints)}",
            )
        )
    return outcomes
