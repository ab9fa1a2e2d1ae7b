"""Lab services: a ServiceSpec as docker SDK arguments, and waiting for a service to converge."""

from __future__ import annotations

from typing import Any

import docker
from docker.models.services import Service
from docker.types import (
    Healthcheck,
    Resources,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    UpdateConfig,
)

from lab.spec import LabError, ServiceSpec
from lab.system import poll


def nano(seconds: float) -> int:
    """Convert seconds to nanoseconds."""
    return int(seconds * 1_000_000_000)


def service_kwargs(spec: ServiceSpec) -> dict[str, Any]:
    """Translate a ServiceSpec into docker SDK `services.create` keyword arguments."""
    kw: dict[str, Any] = {
        "name": spec.name,
        "command": spec.command,
        "labels": spec.labels,
        "container_labels": spec.container_labels,
        "env": [f"{k}={v}" for k, v in spec.env.items()],
        "constraints": spec.constraints,
        "mounts": spec.mounts,
        "mode": ServiceMode("global")
        if spec.mode == "global"
        else ServiceMode("replicated", spec.replicas),
    }
    if spec.cap_add:
        kw["cap_add"] = spec.cap_add
    if spec.memory_limit or spec.memory_reservation or spec.cpu_limit:
        kw["resources"] = Resources(
            cpu_limit=nano(spec.cpu_limit) if spec.cpu_limit else None,
            mem_limit=spec.memory_limit,
            mem_reservation=spec.memory_reservation,
        )
    if spec.healthcheck:
        interval = nano(spec.health_interval_s)
        kw["healthcheck"] = Healthcheck(
            test=["CMD", *spec.healthcheck], interval=interval, timeout=interval, retries=2
        )
    if spec.update_config:
        kw["update_config"] = UpdateConfig(**spec.update_config)
    if spec.rollback_config:
        kw["rollback_config"] = RollbackConfig(**spec.rollback_config)
    if spec.restart_policy:
        kw["restart_policy"] = RestartPolicy(**spec.restart_policy)
    return kw | spec.extra


def wait_converged(
    client: docker.DockerClient, service: Service | str, timeout: float = 30
) -> None:
    """Wait until every task the service wants running is running."""
    svc = client.services.get(service if isinstance(service, str) else service.id)
    mode = svc.attrs["Spec"]["Mode"]
    want = mode["Replicated"]["Replicas"] if "Replicated" in mode else None

    def converged() -> bool:
        tasks = [t for t in svc.tasks() if t["DesiredState"] == "running"]
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        enough = len(running) == want if want is not None else bool(running)
        return enough and len(running) == len(tasks)

    try:
        poll(converged, timeout, f"service {svc.name} to converge")
    except LabError as exc:
        errors = {t["Status"].get("Err") for t in svc.tasks() if t["Status"].get("Err")}
        raise LabError(f"{exc}; task errors: {sorted(errors)}") from exc
