"""Health: checks defined, services converged, tasks not flapping."""

from __future__ import annotations

from datetime import timedelta

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import is_job


@rule(
    id="health.healthcheck",
    title="Health check defined",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 points out that without a health check the orchestrator only knows
    whether the process exists, not whether it answers. A health check lets Swarm restart a hung
    task, keep traffic away from it and stop a bad rollout.""",
    remediation="""`docker service update --health-cmd 'curl -fsS http://localhost:8000/health'
    --health-interval 30s --health-retries 3 {name}` (Compose: `healthcheck: test: [CMD, ...]`;
    or a HEALTHCHECK in the image's Dockerfile).""",
    alone=True,
)
def healthcheck(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        test = service.healthcheck
        if test is None:
            observed = "no health check"
        elif not test or test[0].upper() == "NONE":
            observed = "health check disabled (NONE)"
        else:
            observed = ""
        outcomes.append(
            check(
                Obj.of_service(service),
                not observed,
                f"service {service.name} has a health check ({(test or [''])[0]})",
                f"service {service.name}: {observed}",
            )
        )
    return outcomes


@rule(
    id="health.converged",
    title="Running tasks match desired tasks",
    target="S",
    severity="critical",
    seed="003",
    rationale="""Seed 003 relies on the orchestrator keeping the declared number of healthy
    instances. A service running fewer tasks than desired is degraded right now: capacity is
    missing and, with one replica, the service is down.""",
    remediation="""See why tasks do not start: `docker service ps --no-trunc {name}` (placement,
    resources, image pull, failing health check), fix the cause, then
    `docker service update --force {name}`.""",
    runtime=True,
    alone=True,
)
def converged(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        observed = f"{service.running_tasks}/{service.desired_tasks} tasks running"
        outcomes.append(
            check(
                Obj.of_service(service),
                service.running_tasks >= service.desired_tasks,
                f"service {service.name}: {observed}",
                f"service {service.name}: {observed}",
            )
        )
    return outcomes


@rule(
    id="health.flapping",
    title="Tasks not failing repeatedly",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 describes the orchestrator killing and restarting unhealthy tasks. When
    that happens three times or more within an hour the service is flapping: it looks up in the
    list but keeps crashing, losing requests and hiding the real fault.""",
    remediation="""Read the failures: `docker service ps --no-trunc --filter desired-state=shutdown
    {name}` and `docker service logs {name}`; fix the cause (memory limit too low, bad config,
    failing dependency) before it hides behind restarts.""",
    runtime=True,
)
def flapping(snapshot, policy, context):
    since = context.now - timedelta(hours=1)
    outcomes = []
    for service in snapshot.services:  # jobs too: a job whose tasks keep failing is flapping
        failures = sum(
            1
            for t in snapshot.tasks_of_service(service.id)
            if t.state in ("failed", "rejected") and (t.timestamp is None or t.timestamp >= since)
        )
        message = f"service {service.name}: {failures} failed/rejected tasks in the last hour"
        outcomes.append(
            check(
                Obj.of_service(service),
                failures < policy.flapping_max_failures,
                message,
                message,
            )
        )
    return outcomes
