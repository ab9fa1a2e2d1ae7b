"""Manager load: keep application tasks off the managers."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import constraint_matches, parse_constraint

_INFRA_NOTE = "label the service watchkeeper.role=infrastructure if it must run there"


@rule(
    id="manager-load.no-app-tasks",
    title="No application tasks on managers",
    target="N",
    severity="warning",
    seed="000",
    rationale="""Seed 000: leave the manager as free of tasks as possible, because it
    orchestrates Docker and an overworked manager slows every deployment and can take the web
    services down with it. Only infrastructure services (labelled
    `watchkeeper.role=infrastructure`) may run there.""",
    remediation="""Move application services off {name}: `docker service update
    --constraint-add node.role!=manager <service>` (Compose: `deploy: placement: constraints:
    [node.role != manager]`), or `docker node update --availability drain {name}`.""",
)
def no_app_tasks(snapshot, policy, context):
    services = snapshot.service_by_id()
    outcomes = []
    for node in snapshot.nodes:
        if not node.is_manager:
            continue
        names = sorted(
            {
                services[t.service_id].name
                for t in snapshot.running_tasks_on_node(node.id)
                if t.service_id in services and not services[t.service_id].is_infrastructure
            }
        )
        outcomes.append(
            check(
                Obj.of_node(node),
                not names,
                f"manager {node.hostname} runs no application task",
                f"manager {node.hostname} runs tasks of {', '.join(names)}",
            )
        )
    return outcomes


def _keeps_off_managers(constraint: str, managers) -> bool:
    """The constraint keeps the service off every manager: `node.role`, a hostname or id pin, a
    label `==` or `!=`, read with swarmkit's semantics against the managers. Without known
    managers (the lint) a role constraint, a hostname/id pin or a label `==` counts."""
    parsed = parse_constraint(constraint)
    if parsed is None:
        return False
    key, operator, value = parsed
    key, value = key.lower(), value.lower()
    if key == "node.role":
        return (operator == "!=" and value == "manager") or (operator == "==" and value == "worker")
    if managers:
        return not any(constraint_matches(m, constraint) for m in managers)
    return operator == "==" and (
        key in ("node.hostname", "node.id") or key.startswith("node.labels.")
    )


@rule(
    id="manager-load.placement",
    title="Services constrained off managers",
    target="S",
    severity="warning",
    seed="000",
    rationale="""Seed 000 recommends placement constraints such as `node.role != manager` so that
    containers run on nodes other than the manager. A constraint keeps the manager free even
    when workers are busy or rebooting; without one the scheduler may place tasks on it. A
    hostname or id pin to a worker, a label (`==` or `!=`) no manager meets, or every manager
    drained count as well.""",
    remediation="""`docker service update --constraint-add 'node.role!=manager' {name}`
    (Compose: `deploy: placement: constraints: ["node.role != manager"]`).""",
)
def placement(snapshot, policy, context):
    managers = [node for node in snapshot.nodes if node.is_manager]
    all_drained = bool(managers) and all(m.availability == "drain" for m in managers)
    outcomes = []
    for service in snapshot.services:
        if service.is_infrastructure:
            continue
        if all_drained:
            outcomes.append(
                check(
                    Obj.of_service(service),
                    True,
                    f"service {service.name}: every manager is drained, no task runs there",
                    "",
                )
            )
            continue
        kept_off = [c for c in service.constraints if _keeps_off_managers(c, managers)]
        outcomes.append(
            check(
                Obj.of_service(service),
                bool(kept_off),
                f"service {service.name} is kept off managers by {kept_off[0]!r}"
                if kept_off
                else "",
                f"service {service.name} has no constraint keeping it off managers "
                f"(constraints: {', '.join(service.constraints) or 'none'}); {_INFRA_NOTE}",
            )
        )
    return outcomes


@rule(
    id="manager-load.unbounded-on-manager",
    title="No task without a memory limit on a manager",
    target="S",
    severity="critical",
    seed="000",
    rationale="""Seed 000 explains that a manager whose resources are exhausted can no longer
    orchestrate the swarm. A task on a manager with no memory limit can grow until it starves the
    manager itself; that is the direct path to the failure the seed describes.""",
    remediation="""`docker service update --limit-memory 512M {name}` (Compose: `deploy:
    resources: limits: memory: 512M`), and keep it off managers with `--constraint-add
    'node.role!=manager'`.""",
    runtime=True,
)
def unbounded_on_manager(snapshot, policy, context):
    managers = {node.id: node for node in snapshot.nodes if node.is_manager}
    outcomes = []
    for service in snapshot.services:
        on_managers = [
            t for t in snapshot.running_tasks_of_service(service.id) if t.node_id in managers
        ]
        if not on_managers:
            continue
        unbounded = sorted(
            {
                managers[t.node_id].hostname
                for t in on_managers
                if not t.memory_limit  # the task's own spec: what runs, not the service's now
            }
        )
        outcomes.append(
            check(
                Obj.of_service(service),
                not unbounded,
                f"service {service.name} runs on managers with a memory limit",
                f"service {service.name} runs without a memory limit on manager(s) "
                f"{', '.join(unbounded)}",
            )
        )
    return outcomes


@rule(
    id="manager-load.ingress-ports",
    title="No routing-mesh ports on an isolated control plane",
    target="S",
    severity="warning",
    seed="002 (isolating the planes)",
    rationale="""Seed 002 isolates the control plane by draining the managers. A port published
    through the routing mesh (ingress mode) is still opened on every node, managers included, so
    client traffic reaches and is forwarded by the managers: the data plane runs through the
    control plane again. Publish such ports in host mode on the workers, or put a load balancer
    in front that targets the workers only.""",
    remediation="""`docker service update --publish-rm <port> --publish-add
    mode=host,published=<port>,target=<target> --constraint-add 'node.role==worker' {name}`
    (Compose: `ports: [{target: <target>, published: <port>, mode: host}]`), and point the load
    balancer at the workers.""",
)
def ingress_ports(snapshot, policy, context):
    managers = [node for node in snapshot.nodes if node.is_manager]
    if not managers or not all(m.availability == "drain" for m in managers):
        return []  # the control plane is not isolated: nothing to keep it from
    outcomes = []
    for service in snapshot.services:
        if not service.published_ports:
            continue
        mesh = service.ingress_ports
        ports = ", ".join(str(port) for port in mesh)
        outcomes.append(
            check(
                Obj.of_service(service),
                not mesh,
                f"service {service.name} publishes no port through the routing mesh",
                f"service {service.name} publishes port(s) {ports} through the routing mesh, "
                "which the drained managers still serve",
            )
        )
    return outcomes
