"""Transients of a rolling update: when a failing check is only the update at work. Pure code.

While Swarm replaces a service's tasks (UpdateStatus.State `updating` or `rollback_started`),
running tasks disagree on the image and fewer tasks than desired run: that is the update, not a
fault. `images.consistent` and `health.converged` report such a check as `pending` (left out of
the score, never notified) until the update ends or runs longer than its own bound:

    bound = tasks x (Monitor + Delay) + UPDATE_ALLOWANCE

with the service's UpdateConfig (RollbackConfig during a rollback), Swarm's defaults where they
are unset (Monitor 5 s, Delay 0) and tasks = the desired count (at least 1). The allowance covers
image pulls and container starts. Past the bound the update is stuck: the check fails (and, if
critical, notifies) like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from clusters.snapshot import Service

IN_PROGRESS = ("updating", "rollback_started")
DEFAULT_MONITOR = timedelta(seconds=5)  # swarmkit's default UpdateConfig.Monitor
UPDATE_ALLOWANCE = timedelta(minutes=5)
TRANSIENT_RULES = ("images.consistent", "health.converged")


def update_bound(service: Service) -> timedelta:
    """How long the service's current update (or rollback) may take before it counts as stuck."""
    config = (
        service.rollback_config
        if service.update_state == "rollback_started"
        else service.update_config
    )
    monitor = DEFAULT_MONITOR
    delay = timedelta(0)
    if config is not None:
        if config.monitor_ns:
            monitor = timedelta(microseconds=config.monitor_ns / 1000)
        if config.delay_ns:
            delay = timedelta(microseconds=config.delay_ns / 1000)
    tasks = max(service.desired_tasks or 0, service.replicas or 0, 1)
    return tasks * (monitor + delay) + UPDATE_ALLOWANCE


def transient(service: Service, now: datetime) -> str | None:
    """Why a failure of the service's convergence or image consistency is pending now (an
    update in progress, inside its bound), or None when it is not: then it counts."""
    if service.update_state not in IN_PROGRESS:
        return None
    what = "a rollback" if service.update_state == "rollback_started" else "an update"
    started = service.update_started_at
    if started is None:
        return f"{what} is in progress (start time unknown)"
    elapsed = now - started
    bound = update_bound(service)
    if elapsed > bound:
        return None
    return (
        f"{what} is in progress (started {_minutes(elapsed)} ago, expected to end within "
        f"{_minutes(bound)})"
    )


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min"
