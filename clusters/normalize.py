"""Engine API JSON -> Snapshot. Pure code: no Django, no I/O, `now` passed in.

Every reader of a poll goes through these functions, so they are defensive about missing keys
(older engines omit many) and strict about what they drop: env values, secret and config data
and join tokens never reach the snapshot.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from clusters import envscan
from clusters.reuse import Reuse, build_all, version_index
from clusters.snapshot import (
    EnvVar,
    Event,
    Mount,
    Network,
    Node,
    SecretMeta,
    Service,
    Snapshot,
    SwarmInfo,
    Task,
    UpdatePolicy,
    network_volume,
)

EVENT_BUFFER = 256  # the engine keeps only its last 256 events
FAILED_TASK_WINDOW = timedelta(hours=1)
NANO = 1_000_000_000


class MalformedResponse(ValueError):
    """The Engine API answered with JSON that does not have the expected shape."""


def parse_time(value: Any) -> datetime | None:
    """An Engine API timestamp (RFC 3339 with nanoseconds) as an aware UTC datetime."""
    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    if value.endswith("Z") and value[10:11] == "T":  # the engine's usual form: parsed in C
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass  # the general path below decides
    text = value.rstrip("Z")
    offset = "+00:00"
    match = re.search(r"([+-]\d\d:\d\d)$", text)
    if match and "T" in text:
        offset = match.group(1)
        text = text[: match.start()]
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(text + offset).astimezone(UTC)
    except ValueError:
        return None


def env_var(item: str) -> EnvVar:
    """One `NAME=value` entry kept by name only, with flags computed from the value."""
    name, sep, value = item.partition("=")
    return EnvVar(
        name=name,
        secret_like=envscan.secret_like_name(name),
        literal=bool(sep) and envscan.is_literal(value),
        private_key=envscan.holds_private_key(value),
    )


def _cpus(nano: Any) -> float | None:
    return nano / NANO if nano else None


def _policy(raw: dict | None) -> UpdatePolicy | None:
    if not raw:
        return None
    ratio = raw.get("MaxFailureRatio")
    return UpdatePolicy(
        parallelism=raw.get("Parallelism"),
        delay_ns=raw.get("Delay"),
        failure_action=raw.get("FailureAction"),
        order=raw.get("Order"),
        monitor_ns=raw.get("Monitor"),
        max_failure_ratio=float(ratio) if ratio is not None else None,
    )


def _mount(raw: dict) -> Mount:
    driver = (raw.get("VolumeOptions") or {}).get("DriverConfig") or {}
    return Mount(
        type=raw.get("Type") or "volume",
        source=raw.get("Source") or "",
        target=raw.get("Target") or "",
        read_only=bool(raw.get("ReadOnly")),
        volume_driver=driver.get("Name") or None,
        network_storage=network_volume(driver.get("Options")),
    )


def _labels(raw: Any, share=str) -> dict[str, str]:
    return {share(str(k)): share(str(v)) for k, v in (raw or {}).items()}


class Shared(dict):
    """One copy of each equal value for one poll: tasks repeat their service and node ids,
    states, images and timestamps thousands of times, services their labels, constraints and
    environment variables, and each came out of the JSON as its own string (some 50 bytes
    each); the snapshot and the normalize.Reuse keep one."""

    def of(self, value: Any) -> Any:
        """VALUE, or the equal string met first (anything but a string as it is)."""
        return self.setdefault(value, value) if type(value) is str else value

    def time(self, value: Any) -> datetime | None:
        """parse_time(VALUE), parsed once per distinct string."""
        if type(value) is not str:
            return parse_time(value)
        key = ("time", value)
        if key not in self:
            self[key] = parse_time(value)
        return self[key]

    def env(self, item: Any) -> EnvVar:
        """env_var(ITEM), made once per distinct `NAME=value` string (EnvVar is immutable)."""
        if type(item) is not str:
            return env_var(item)
        key = ("env", item)
        if key not in self:
            self[key] = env_var(item)
        return self[key]


def node(raw: dict) -> Node:
    """One entry of GET /nodes."""
    spec, desc = raw.get("Spec") or {}, raw.get("Description") or {}
    status = raw.get("Status") or {}
    resources, manager = desc.get("Resources") or {}, raw.get("ManagerStatus") or {}
    platform, engine = desc.get("Platform") or {}, desc.get("Engine") or {}
    role = spec.get("Role") or ("manager" if manager else "worker")
    return Node(
        id=raw["ID"],
        hostname=desc.get("Hostname") or "",
        role=role,
        state=status.get("State") or "unknown",
        availability=spec.get("Availability") or "active",
        cpus=(resources.get("NanoCPUs") or 0) / NANO,
        memory_bytes=int(resources.get("MemoryBytes") or 0),
        engine_version=engine.get("EngineVersion") or "",
        addr=status.get("Addr") or "",
        labels=_labels(spec.get("Labels")),
        engine_labels=_labels(engine.get("Labels")),
        leader=bool(manager.get("Leader")),
        reachability=manager.get("Reachability") if role == "manager" else None,
        manager_addr=manager.get("Addr"),
        os=platform.get("OS") or "",
        arch=platform.get("Architecture") or "",
    )


def service(raw: dict, running_by_service: dict[str, int], shared: Shared | None = None) -> Service:
    """One entry of GET /services?status=true. SHARED (one per poll) gives equal values one
    copy."""
    if shared is None:
        shared = Shared()
    share = shared.of
    spec = raw.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    resources = template.get("Resources") or {}
    limits, reservations = resources.get("Limits") or {}, resources.get("Reservations") or {}
    mode_raw = spec.get("Mode") or {}
    mode = next(
        (
            name
            for key, name in (
                ("Replicated", "replicated"),
                ("Global", "global"),
                ("ReplicatedJob", "replicated-job"),
                ("GlobalJob", "global-job"),
            )
            if key in mode_raw
        ),
        "replicated",
    )
    replicas = (mode_raw.get("Replicated") or {}).get("Replicas") if mode == "replicated" else None
    status = raw.get("ServiceStatus") or {}
    running = status.get("RunningTasks")
    desired = status.get("DesiredTasks")
    update_status = raw.get("UpdateStatus") or {}
    health = container.get("Healthcheck")
    log_driver = (template.get("LogDriver") or {}).get("Name")
    endpoint = raw.get("Endpoint") or {}
    ports = (endpoint.get("Spec") or {}).get("Ports") or endpoint.get("Ports") or []
    return Service(
        id=raw["ID"],
        name=spec.get("Name") or "",
        image=share(container.get("Image") or ""),
        mode=mode,
        replicas=replicas,
        running_tasks=running if running is not None else running_by_service.get(raw["ID"], 0),
        desired_tasks=desired if desired is not None else (replicas or 0),
        labels=_labels(spec.get("Labels"), share),
        container_labels=_labels(container.get("Labels"), share),
        constraints=[share(c) for c in (template.get("Placement") or {}).get("Constraints") or []],
        memory_limit=limits.get("MemoryBytes") or None,
        memory_reservation=reservations.get("MemoryBytes") or None,
        cpu_limit=_cpus(limits.get("NanoCPUs")),
        cpu_reservation=_cpus(reservations.get("NanoCPUs")),
        healthcheck=list(health["Test"]) if health and health.get("Test") else None,
        env=[shared.env(item) for item in container.get("Env") or []],
        mounts=[_mount(m) for m in container.get("Mounts") or []],
        cap_add=list(container.get("CapabilityAdd") or []),
        update_config=_policy(spec.get("UpdateConfig")),
        rollback_config=_policy(spec.get("RollbackConfig")),
        restart_condition=share((template.get("RestartPolicy") or {}).get("Condition")),
        update_state=update_status.get("State"),
        update_message=update_status.get("Message") or "",
        update_started_at=parse_time(update_status.get("StartedAt")),
        networks=[
            share(n["Target"]) for n in template.get("Networks") or spec.get("Networks") or []
        ],
        log_driver=share(log_driver),
        secrets=[share(s.get("SecretName") or "") for s in container.get("Secrets") or []],
        configs=[share(c.get("ConfigName") or "") for c in container.get("Configs") or []],
        published_ports=sorted(
            {p["PublishedPort"] for p in ports if p.get("PublishedPort") is not None}
        ),
        host_ports=sorted(
            {
                p["PublishedPort"]
                for p in ports
                if p.get("PublishedPort") is not None and p.get("PublishMode") == "host"
            }
        ),
        created_at=shared.time(raw.get("CreatedAt")),
        updated_at=shared.time(raw.get("UpdatedAt")),
    )


def task(raw: dict, shared: Shared | None = None) -> Task:
    """One entry of GET /tasks; only what the rules read (no env, no container details).
    SHARED (one per poll) gives equal values one copy."""
    if shared is None:
        shared = Shared()
    share = shared.of
    spec, status = raw.get("Spec") or {}, raw.get("Status") or {}
    container = spec.get("ContainerSpec") or {}
    resources = spec.get("Resources") or {}
    limits, reservations = resources.get("Limits") or {}, resources.get("Reservations") or {}
    return Task(
        id=raw["ID"],
        service_id=share(raw.get("ServiceID") or ""),
        node_id=share(raw.get("NodeID") or None),
        state=share(status.get("State") or "unknown"),
        desired_state=share(raw.get("DesiredState") or ""),
        image=share(container.get("Image") or ""),
        slot=raw.get("Slot"),
        memory_limit=limits.get("MemoryBytes") or None,
        memory_reservation=reservations.get("MemoryBytes") or None,
        cpu_limit=_cpus(limits.get("NanoCPUs")),
        cpu_reservation=_cpus(reservations.get("NanoCPUs")),
        timestamp=shared.time(status.get("Timestamp")),
        error=status.get("Err") or "",
    )


def network(raw: dict) -> Network:
    """One entry of GET /networks."""
    options = raw.get("Options") or {}
    return Network(
        id=raw.get("Id") or raw.get("ID") or "",
        name=raw.get("Name") or "",
        driver=raw.get("Driver") or "",
        scope=raw.get("Scope") or "",
        encrypted="encrypted" in options,
        ingress=bool(raw.get("Ingress")),
        internal=bool(raw.get("Internal")),
        attachable=bool(raw.get("Attachable")),
        labels=_labels(raw.get("Labels")),
    )


def secret_meta(raw: dict) -> SecretMeta:
    """Secret or config metadata; Spec.Data is never read."""
    spec = raw.get("Spec") or {}
    return SecretMeta(
        id=raw.get("ID") or "",
        name=spec.get("Name") or "",
        created_at=parse_time(raw.get("CreatedAt")),
        updated_at=parse_time(raw.get("UpdatedAt")),
        labels=_labels(spec.get("Labels")),
    )


def event(raw: dict) -> Event:
    """One node or service event."""
    nano = raw.get("timeNano")
    seconds = nano / NANO if nano else raw.get("time") or 0
    actor = raw.get("Actor") or {}
    return Event(
        type=raw.get("Type") or "",
        action=raw.get("Action") or "",
        actor_id=actor.get("ID") or raw.get("id") or "",
        time=datetime.fromtimestamp(seconds, tz=UTC),
        attributes=_labels(actor.get("Attributes")),
    )


def _seen_since(fingerprint: str, before: str, seen: datetime | None, now: datetime):
    """When a join token with FINGERPRINT was first seen: kept from the previous poll while it
    is the same token (BEFORE, SEEN), else now (a new token, or the first poll that reads it)."""
    if not fingerprint:
        return None
    return seen if fingerprint == before and seen is not None else now


def swarm_info(
    info: dict,
    version: dict | None = None,
    swarm_raw: dict | None = None,
    *,
    previous: SwarmInfo | None = None,
    now: datetime | None = None,
) -> SwarmInfo:
    """The Swarm section of GET /info (its Cluster part carries no join tokens), plus what
    GET /swarm adds (SWARM_RAW, already without tokens: see client.fetch): the swarm-wide task
    log driver and the join tokens' fingerprints, their first-seen moment carried over from
    PREVIOUS (the last poll's SwarmInfo)."""
    swarm = info.get("Swarm") or {}
    cluster = swarm.get("Cluster") or {}
    spec = cluster.get("Spec") or {}
    task_log_driver = None
    fingerprints: dict[str, str] = {}
    if swarm_raw:
        defaults = (swarm_raw.get("Spec") or {}).get("TaskDefaults") or {}
        task_log_driver = str((defaults.get("LogDriver") or {}).get("Name") or "")
        fingerprints = _labels(swarm_raw.get("JoinTokenFingerprints"))
    worker, manager = fingerprints.get("Worker", ""), fingerprints.get("Manager", "")
    previous = previous or SwarmInfo()
    now = now or datetime.now(tz=UTC)
    return SwarmInfo(
        cluster_id=cluster.get("ID") or "",
        created_at=parse_time(cluster.get("CreatedAt")),
        autolock=bool((spec.get("EncryptionConfig") or {}).get("AutoLockManagers")),
        node_cert_expiry_ns=(spec.get("CAConfig") or {}).get("NodeCertExpiry"),
        default_log_driver=info.get("LoggingDriver") or "",
        task_log_driver=task_log_driver,
        worker_token_fingerprint=worker,
        worker_token_seen_since=_seen_since(
            worker, previous.worker_token_fingerprint, previous.worker_token_seen_since, now
        ),
        manager_token_fingerprint=manager,
        manager_token_seen_since=_seen_since(
            manager, previous.manager_token_fingerprint, previous.manager_token_seen_since, now
        ),
        server_version=info.get("ServerVersion") or (version or {}).get("Version") or "",
        managers=int(swarm.get("Managers") or 0),
        nodes=int(swarm.get("Nodes") or 0),
        control_available=bool(swarm.get("ControlAvailable")),
    )


def image_healthchecks(images: dict | None) -> dict[str, list[str]]:
    """Image reference -> its config's Healthcheck.Test ([] when the image defines none), from
    the image inspections a poll made (client.fetch keeps only Config.Healthcheck)."""
    found = {}
    for ref, raw in (images or {}).items():
        if not isinstance(raw, dict):
            continue
        health = (raw.get("Config") or {}).get("Healthcheck") or {}
        found[str(ref)] = [str(part) for part in health.get("Test") or []]
    return found


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_nul(v) for v in value]
    return value


def without_nul(raw: dict[str, Any]) -> dict[str, Any]:
    """RAW with NUL characters replaced by U+FFFD: Docker accepts them in labels, env, paths,
    PostgreSQL text and jsonb do not (one would make every poll of the cluster fail)."""
    try:
        text = orjson.dumps(raw, default=str)  # decoded JSON: str keys, no cycles
    except orjson.JSONEncodeError:
        text = json.dumps(raw, default=str, check_circular=False).encode()
    if b"\\u0000" not in text:  # the usual case, checked at C speed
        return raw
    return _replace_nul(raw)


def _task_key(raw: dict, shared: Shared) -> Any:
    version = raw.get("Version")  # version_index, inlined: asked for every task of a poll
    index = version.get("Index") if isinstance(version, dict) else None
    return None if index is None else (index, shared.of(raw.get("UpdatedAt")))


def snapshot(raw: dict[str, Any], *, now: datetime, reuse: Reuse | None = None) -> Snapshot:
    """Build the Snapshot from one poll's raw JSON.

    RAW has the keys info, version (optional), nodes, services, tasks_running, tasks_shutdown,
    networks, secrets, configs, events (all event types: the count tells whether the engine's
    buffer may have dropped some) and events_since (datetime or None); nul_free (optional)
    says the fetch saw no NUL in the answers it read whole (client.RawPoll.nul_free).
    """
    if raw.get("nul_free"):  # left to look at: the events (a stream), images (partly cached)
        rest = {"events": raw.get("events") or [], "images": raw.get("images") or {}}
        raw = dict(raw, **without_nul(rest))
    else:
        raw = without_nul(raw)
    previous = reuse or Reuse()
    current = Reuse()
    try:
        shared = Shared()
        tasks = build_all(
            [*(raw.get("tasks_running") or []), *(raw.get("tasks_shutdown") or [])],
            partial(task, shared=shared), partial(_task_key, shared=shared),
            previous.tasks, current.tasks, current,
        )  # fmt: skip
        running = tasks[: len(raw.get("tasks_running") or [])]
        recent = now - FAILED_TASK_WINDOW
        failed = [
            t
            for t in tasks[len(running) :]
            if t.state in ("failed", "rejected") and t.timestamp and t.timestamp >= recent
        ]
        counts: dict[str, int] = {}
        for t in running:
            if t.state == "running":
                counts[t.service_id] = counts.get(t.service_id, 0) + 1

        def service_key(item: dict) -> Any:
            index = version_index(item)
            if index is None:
                return None
            status = item.get("ServiceStatus") or {}
            return (
                index,
                item.get("UpdatedAt"),
                status.get("RunningTasks"),
                status.get("DesiredTasks"),
                counts.get(item.get("ID"), 0),
            )

        services = build_all(
            raw.get("services") or [],
            lambda item: service(item, counts, shared), service_key, previous.services,
            current.services, current,
        )  # fmt: skip
        all_events = raw.get("events") or []
        result = Snapshot(
            taken_at=now,
            swarm=swarm_info(
                raw.get("info") or {},
                raw.get("version"),
                raw.get("swarm"),
                previous=previous.swarm,
                now=now,
            ),
            nodes=sorted((node(n) for n in raw.get("nodes") or []), key=lambda n: n.hostname),
            services=sorted(services, key=lambda s: s.name),
            tasks=running + failed,
            networks=[network(n) for n in raw.get("networks") or []],
            secrets=[secret_meta(s) for s in raw.get("secrets") or []],
            configs=[secret_meta(c) for c in raw.get("configs") or []],
            events=sorted(
                (event(e) for e in all_events if e.get("Type") in ("node", "service")),
                key=lambda e: e.time,
            ),
            events_truncated=len(all_events) >= EVENT_BUFFER,
            images=image_healthchecks(raw.get("images")),
        )
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise MalformedResponse(f"{type(exc).__name__}: {exc}") from exc
    if reuse is not None:
        reuse.services, reuse.tasks, reuse.hits = current.services, current.tasks, current.hits
        reuse.swarm = result.swarm
    return result
