"""Tiny factories for clusters.snapshot objects (planner and verification tests)."""

from datetime import UTC, datetime

from clusters.snapshot import Node, Service, Snapshot, SwarmInfo, Task

GIB = 2**30
T0 = datetime(2027, 1, 1, tzinfo=UTC)


def node(hostname, role="worker", *, cpus=2.0, memory_gib=8, state="ready", **kwargs):
    kwargs.setdefault("availability", "active")
    if role == "manager":
        kwargs.setdefault("reachability", "reachable")
    return Node(
        id=f"id-{hostname}",
        hostname=hostname,
        role=role,
        state=state,
        cpus=cpus,
        memory_bytes=int(memory_gib * GIB),
        **kwargs,
    )


def service(name, *, mode="replicated", replicas=1, cpu=None, memory_gib=None, **kwargs):
    return Service(
        id=f"svc-{name}",
        name=name,
        image=f"{name}:1.0",
        mode=mode,
        replicas=replicas if mode == "replicated" else None,
        cpu_reservation=cpu,
        memory_reservation=int(memory_gib * GIB) if memory_gib else None,
        **kwargs,
    )


def tasks(svc, *hostnames):
    return [
        Task(
            id=f"task-{svc.name}-{i}",
            service_id=svc.id,
            node_id=f"id-{hostname}",
            state="running",
            desired_state="running",
            image=svc.image,
            slot=i,
        )
        for i, hostname in enumerate(hostnames, start=1)
    ]


def snapshot(nodes, services=(), task_list=(), taken_at=T0):
    managers = sum(1 for n in nodes if n.role == "manager")
    return Snapshot(
        taken_at=taken_at,
        swarm=SwarmInfo(managers=managers, nodes=len(nodes)),
        nodes=list(nodes),
        services=list(services),
        tasks=list(task_list),
    )
