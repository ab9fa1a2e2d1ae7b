"""Demo services for `make run`: one compliant, several deliberately misconfigured."""

from __future__ import annotations

from dataclasses import replace

from docker.models.services import Service

from lab.core import Lab
from lab.spec import DEFAULT_IMAGE, ServiceSpec

MIB = 1024 * 1024
DEMO_LABEL = {"watchkeeper.demo": "true"}


def demo_services(docker_sock: str) -> list[ServiceSpec]:
    """Return the demo service specs; `docker_sock` is a socket path that exists on the host."""
    return [
        ServiceSpec(
            name="shop-api",
            image=DEFAULT_IMAGE,
            replicas=2,
            labels=DEMO_LABEL | {"team": "shop"},
            constraints=["node.role==worker"],
            memory_limit=128 * MIB,
            memory_reservation=64 * MIB,
            cpu_limit=0.5,
            healthcheck=["true"],
            update_config={"parallelism": 1, "failure_action": "rollback", "order": "start-first"},
            rollback_config={"parallelism": 1, "order": "stop-first"},
            restart_policy={"condition": "on-failure", "max_attempts": 3},
        ),
        ServiceSpec(
            name="legacy-cron",
            image="wk-busybox:latest",
            labels=DEMO_LABEL,
            constraints=["node.role==manager"],
        ),
        ServiceSpec(
            name="billing-worker",
            image="wk-busybox",
            labels=DEMO_LABEL | {"team": "billing"},
            env={"DB_HOST": "db.internal", "DB_PASSWORD": "hunter2"},
            constraints=["node.role==manager"],
        ),
        ServiceSpec(
            name="ops-agent",
            image=DEFAULT_IMAGE,
            labels=DEMO_LABEL | {"team": "ops"},
            constraints=["node.role==manager"],
            mounts=[f"{docker_sock}:/var/run/docker.sock:rw", "/tmp:/host-tmp:rw"],
            cap_add=["NET_ADMIN"],
        ),
        ServiceSpec(
            name="reports-batch",
            image=DEFAULT_IMAGE,
            labels=DEMO_LABEL | {"team": "reports"},
            constraints=["node.role==manager"],
            memory_limit=64 * MIB,
            healthcheck=["false"],
            restart_policy={"condition": "any", "delay": 10_000_000_000},
        ),
    ]


# The socket placeholder is filled in with the lab manager's own socket at creation.
DEMO_SERVICES: list[ServiceSpec] = demo_services("{manager_socket}")
CONVERGING = ("shop-api", "legacy-cron", "billing-worker", "ops-agent")


def create_demo_services(lab: Lab, *, wait: bool = True, timeout: float = 60) -> list[Service]:
    """Create the demo services in the lab; wait for those meant to run."""
    existing = {s.name for s in lab.client().services.list()}
    sock = str(lab.node_socket(lab.manager))
    specs = [
        replace(s, mounts=[m.format(manager_socket=sock) for m in s.mounts])
        for s in DEMO_SERVICES
        if s.name not in existing
    ]
    created = [lab.create_service(spec) for spec in specs]
    if wait:
        for service in created:
            if service.name in CONVERGING:
                lab.wait_converged(service, timeout)
    return created
