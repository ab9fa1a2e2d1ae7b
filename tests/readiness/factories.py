"""Hand-built snapshots for rule tests: plain data, sensible production-grade defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from clusters.snapshot import (
    EnvVar,
    Mount,
    Network,
    Node,
    Service,
    Snapshot,
    SwarmInfo,
    Task,
    UpdatePolicy,
)
from readiness.context import Endpoint, RuleContext
from readiness.facts import BackupFact, OperationsFacts, WindowFact
from readiness.policy import Policy

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GIB = 1024**3
MIB = 1024**2

__all__ = ["EnvVar", "Mount", "Network", "UpdatePolicy", "BackupFact", "WindowFact"]


def node(name: str = "w1", role: str = "worker", **kw) -> Node:
    defaults = dict(
        id=f"id-{name}",
        hostname=name,
        role=role,
        state="ready",
        availability="active",
        cpus=2,
        memory_bytes=8 * GIB,
        engine_version="27.3.1",
        reachability="reachable" if role == "manager" else None,
        leader=False,
    )
    defaults.update(kw)
    return Node(**defaults)


def service(name: str = "web", **kw) -> Service:
    """A compliant service unless told otherwise."""
    defaults = dict(
        id=f"id-{name}",
        name=name,
        image=f"registry.example.com/{name}:1.0@sha256:" + "a" * 64,
        mode="replicated",
        replicas=2,
        running_tasks=2,
        desired_tasks=2,
        constraints=["node.role==worker"],
        memory_limit=512 * MIB,
        memory_reservation=256 * MIB,
        cpu_limit=1.0,
        cpu_reservation=0.25,
        healthcheck=["CMD", "true"],
        update_config=UpdatePolicy(failure_action="rollback", order="start-first"),
        rollback_config=UpdatePolicy(parallelism=1, failure_action="pause", order="start-first"),
        restart_condition="any",
        log_driver="journald",
    )
    defaults.update(kw)
    return Service(**defaults)


def task(svc: Service, node_id: str | None = "id-w1", **kw) -> Task:
    defaults = dict(
        id=f"t-{svc.name}-{node_id}-{kw.get('slot', 1)}",
        service_id=svc.id,
        node_id=node_id,
        state="running",
        desired_state="running",
        image=svc.image,
        memory_limit=svc.memory_limit,
        memory_reservation=svc.memory_reservation,
        cpu_reservation=svc.cpu_reservation,
        timestamp=NOW,
    )
    defaults.update(kw)
    return Task(**defaults)


def healthy_nodes() -> list[Node]:
    return [
        node("m1", "manager", leader=True, availability="drain"),
        node("m2", "manager", availability="drain"),
        node("m3", "manager", availability="drain"),
        node("w1"),
        node("w2"),
    ]


def snapshot(nodes=None, services=(), tasks=(), networks=(), **swarm) -> Snapshot:
    info = dict(cluster_id="swarm-1", autolock=True, node_cert_expiry_ns=90 * 86400 * 10**9)
    info.update(swarm)
    return Snapshot(
        taken_at=NOW,
        swarm=SwarmInfo(**info),
        nodes=healthy_nodes() if nodes is None else list(nodes),
        services=list(services),
        tasks=list(tasks),
        networks=list(networks),
    )


def facts(**kw) -> OperationsFacts:
    defaults = dict(
        windows=[WindowFact("Sunday patching", 60, True)],
        last_reboot={},
        backups=[
            BackupFact("db", 90, NOW, "ok"),
            BackupFact("swarm raft", 90, NOW, "ok", kind="swarm_raft"),
        ],
        recipients=1,
    )
    defaults.update(kw)
    return OperationsFacts(**defaults)


def context(**kw) -> RuleContext:
    defaults = dict(now=NOW, cluster_name="lab", endpoint=Endpoint("unix"))
    defaults.update(kw)
    return RuleContext(**defaults)


def run(rule_id: str, snap: Snapshot, ctx: RuleContext | None = None, policy=None):
    """(status, object name) pairs of one rule's outcomes."""
    from readiness import catalogue

    outcomes = catalogue.get(rule_id).function(snap, policy or Policy(), ctx or context())
    return [
        (o.status or {True: "pass", False: "fail", None: "not_evaluated"}[o.passed], o.object.name)
        for o in outcomes
    ]


def with_(obj, **kw):
    return replace(obj, **kw)
