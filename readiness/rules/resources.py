"""Resources: memory limits and reservations on every service."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import MIB, human_bytes


@rule(
    id="resources.memory-limit",
    title="Memory limit set",
    target="S",
    severity="critical",
    seed="003",
    rationale="""Seed 003 starts with memory: the limit is what the orchestrator enforces, killing
    and restarting a task that goes beyond it. Without a limit one leaking container can exhaust
    the node and take every other task on it down.""",
    remediation="""`docker service update --limit-memory 512M {name}` (Compose: `deploy:
    resources: limits: memory: 512M`); size it from observed usage plus margin.""",
    alone=True,
)
def memory_limit(snapshot, policy, context):
    return [
        check(
            Obj.of_service(service),
            service.memory_limit is not None and service.memory_limit > 0,
            f"service {service.name}: memory limit {human_bytes(service.memory_limit)}",
            f"service {service.name} has no memory limit",
        )
        for service in snapshot.services
    ]


@rule(
    id="resources.memory-floor",
    title="Memory limit of at least 128 MiB",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 notes that 32 MB is the smallest limit some schedulers accept but that
    going below 128 MB is rarely sane: a limit that tight gets a real service OOM-killed under
    ordinary load. We take 128 MiB as the floor.""",
    remediation="""`docker service update --limit-memory 256M {name}` (Compose: `deploy:
    resources: limits: memory: 256M`), then watch actual usage and alert near the limit.""",
    alone=True,
)
def memory_floor(snapshot, policy, context):
    floor = policy.memory_floor_mib * MIB
    return [
        check(
            Obj.of_service(service),
            service.memory_limit >= floor,
            f"service {service.name}: memory limit {human_bytes(service.memory_limit)}",
            f"service {service.name}: memory limit {human_bytes(service.memory_limit)} is below "
            f"{policy.memory_floor_mib} MiB",
        )
        for service in snapshot.services
        if service.memory_limit
    ]


@rule(
    id="resources.memory-reservation",
    title="Memory reservation set",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 asks to size memory deliberately. A reservation tells the scheduler how
    much a task needs, so it is only placed where that memory is free; without one, nodes get
    overcommitted and tasks get OOM-killed once they are busy. A reservation above the limit is
    refused when the container is created, so it fails too.""",
    remediation="""`docker service update --reserve-memory 256M {name}` (Compose: `deploy:
    resources: reservations: memory: 256M`).""",
    alone=True,
)
def memory_reservation(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        reserved, limit = service.memory_reservation, service.memory_limit
        above = bool(reserved and limit and reserved > limit)
        outcomes.append(
            check(
                Obj.of_service(service),
                bool(reserved) and not above,
                f"service {service.name}: memory reservation {human_bytes(reserved)}",
                f"service {service.name}: memory reservation {human_bytes(reserved)} is above "
                f"its limit {human_bytes(limit)} (no task can start)"
                if above
                else f"service {service.name} has no memory reservation",
            )
        )
    return outcomes


@rule(
    id="resources.cpu-limit",
    title="CPU limit set",
    target="S",
    severity="info",
    seed="003",
    rationale="""Seed 003 gives every production app an explicit CPU share. A CPU limit keeps one
    busy service from starving its neighbours on the same node; it is shown for information
    since CPU contention degrades rather than kills.""",
    remediation="""`docker service update --limit-cpu 1 {name}` (Compose: `deploy: resources:
    limits: cpus: "1"`).""",
    alone=True,
)
def cpu_limit(snapshot, policy, context):
    return [
        check(
            Obj.of_service(service),
            bool(service.cpu_limit),
            f"service {service.name}: CPU limit {service.cpu_limit:g}" if service.cpu_limit else "",
            f"service {service.name} has no CPU limit",
        )
        for service in snapshot.services
    ]
