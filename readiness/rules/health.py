"""Health: checks defined, services converged, tasks not flapping."""

from __future__ import annotations

from datetime import timedelta

from readiness.checks import Obj, bad, check, ok, pending, unknown
from readiness.registry import rule
from readiness.rules._util import is_job
from readiness.transients import transient


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
)
def healthcheck(snapshot, policy, context):
    """The spec's Healthcheck.Test decides when it has one; a missing or empty Test (only
    interval, retries, ...) inherits the image's HEALTHCHECK, read on the manager
    (snapshot.images); where the image could not be read, nothing can tell: unknown."""
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        obj = Obj.of_service(service)
        test = service.healthcheck
        if test:
            if test[0].upper() == "NONE":
                outcomes.append(bad(obj, f"service {service.name}: health check disabled (NONE)"))
            else:
                outcomes.append(ok(obj, f"service {service.name} has a health check ({test[0]})"))
            continue
        image_test = snapshot.images.get(service.image) if context.runtime else None
        if image_test is None:
            where = (
                "the file does not show whether the image defines a HEALTHCHECK"
                if not context.runtime
                else f"the image {service.image} could not be inspected on the polled manager "
                "(not pulled there), so whether it defines a HEALTHCHECK is unknown"
            )
            outcomes.append(
                unknown(obj, f"service {service.name}: no health check in the spec; {where}")
            )
        elif image_test and image_test[0].upper() != "NONE":
            outcomes.append(
                ok(obj, f"service {service.name}: health check from the image ({image_test[0]})")
            )
        else:
            why = "disables it (NONE)" if image_test else "defines none"
            outcomes.append(
                bad(
                    obj,
                    f"service {service.name}: no health check in the spec, and the image "
                    f"{service.image} {why}",
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
)
def converged(snapshot, policy, context):
    """Pending instead of failing while a rolling update is inside its bound (transients)."""
    outcomes = []
    for service in snapshot.services:
        if is_job(service):
            continue
        obj = Obj.of_service(service)
        observed = (
            f"service {service.name}: {service.running_tasks}/{service.desired_tasks} tasks running"
        )
        if service.running_tasks >= service.desired_tasks:
            outcomes.append(ok(obj, observed))
        elif (why := transient(service, context.now)) is not None:
            outcomes.append(pending(obj, f"{observed}: {why}"))
        else:
            outcomes.append(bad(obj, observed))
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
