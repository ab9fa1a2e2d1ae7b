"""The snapshot: one poll of a swarm as plain data. Pure code, no Django.

This is the contract between the poller (which builds it from Engine API JSON in
``clusters.normalize``) and its readers (readiness rules, the reboot planner).
Sizes are bytes, CPUs are whole or fractional CPUs (NanoCPUs / 1e9), times are
timezone-aware UTC datetimes. No env value, secret data or join token is ever kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INFRA_LABEL = "watchkeeper.role"
INFRA_VALUE = "infrastructure"
SINGLETON_LABEL = "watchkeeper.singleton"
DOWN_STATES = ("down", "unknown", "disconnected")  # node states that count as down


class Memo:
    """The one cache a snapshot object carries: what readers derive from it, kept so that a
    poll computes it once. Every snapshot dataclass is frozen and slotted (no attribute can be
    set or added, there is no ``__dict__``); ``Snapshot``, ``Node`` and ``Service`` each own
    one, read as ``obj.memo`` (the field ``_memo``: not compared, not shown, not serialised,
    by orjson either, and fresh in a ``dataclasses.replace`` copy). Its entries, each ``None``
    until first computed:

    - ``tasks`` (Snapshot): the tasks indexed by service and node (``Snapshot._task_index``),
      with the list and length they were built from: rebuilt if the list was replaced or grew.
    - ``check_obj`` (Node, Service): the readiness ``checks.Obj`` naming the object (a pure
      function of its id, name and labels; some fifty rules ask for it, and the engine matches
      outcomes to services by its identity).
    - ``alone_rules`` (Service): ``(stamp, {rule id: kept result})``, what the rules marked
      ``alone`` found on the service under the stamp (environment, policy): see
      ``readiness.engine``.
    - ``stored_digest`` (Service): the hash of the service's stored fields
      (``clusters.persistence``).

    A poll reuses the Node/Service objects the API reports unchanged (``normalize.Reuse``), so
    their entries outlive one snapshot; each is a function of the object's own fields (or keyed
    by what else it depends on), so it stays right. Why not ``functools.cached_property``:
    the objects have no ``__dict__``, and two of the entries are computed by the layers above
    (readiness, persistence), which this module must not import.
    """

    __slots__ = ("tasks", "check_obj", "alone_rules", "stored_digest")

    def __init__(self) -> None:
        self.tasks: tuple | None = None
        self.check_obj: Any = None
        self.alone_rules: tuple | None = None
        self.stored_digest: str | None = None


def _memo_field():
    """The ``_memo`` field of Snapshot, Node and Service (see Memo)."""
    return field(default_factory=Memo, init=False, compare=False, repr=False)


def _memo_of(obj) -> Memo:
    """The object's Memo (the ``memo`` property of Snapshot, Node and Service)."""
    return obj._memo


_MEMO = property(_memo_of, doc="The object's one cache: see Memo.")


@dataclass(frozen=True, slots=True)
class EnvVar:
    """An environment variable kept by name only."""

    name: str
    secret_like: bool = False  # the name looks like a secret (password, token, ...) and not *_FILE
    literal: bool = False  # a literal value was set (not empty, not a reference)
    private_key: bool = False  # the value contains "PRIVATE KEY-----"


@dataclass(frozen=True, slots=True)
class Mount:
    type: str  # bind | volume | tmpfs | npipe | cluster
    source: str
    target: str
    read_only: bool = False
    volume_driver: str | None = None  # None or "local" for local volumes
    network_storage: bool = False  # a local-driver volume backed by NFS/CIFS (see network_volume)


_NETWORK_TYPES = {"nfs", "nfs4", "cifs", "smb", "smb3"}


def network_volume(options: dict | None) -> bool:
    """A local-driver volume's options mount network storage (`type=nfs`, `o=addr=...`,
    `device=:/export` or `//server/share`): its data does not live on one node."""
    options = {str(k).lower(): str(v) for k, v in (options or {}).items()}
    kind = options.get("type", "").lower()
    device = options.get("device", "")
    return (
        kind in _NETWORK_TYPES or "addr=" in options.get("o", "") or device.startswith((":", "//"))
    )


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    cpus: float
    memory_bytes: int
    engine_version: str = ""
    addr: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # node spec labels (node.labels.*)
    engine_labels: dict[str, str] = field(default_factory=dict)
    leader: bool = False
    reachability: str | None = None  # managers: reachable | unreachable | unknown
    manager_addr: str | None = None
    os: str = ""
    arch: str = ""
    tls_cert_expiry_hint: str | None = None
    _memo: Memo = _memo_field()
    memo = _MEMO

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    parallelism: int | None = None
    delay_ns: int | None = None
    failure_action: str | None = None  # pause | continue | rollback
    order: str | None = None  # stop-first | start-first
    monitor_ns: int | None = None
    max_failure_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    image: str  # spec image, as given (may carry @sha256:)
    mode: str  # replicated | global | replicated-job | global-job
    replicas: int | None = None  # replicated only
    running_tasks: int = 0  # ServiceStatus.RunningTasks (or counted)
    desired_tasks: int = 0  # ServiceStatus.DesiredTasks (or replicas)
    labels: dict[str, str] = field(default_factory=dict)  # service labels
    container_labels: dict[str, str] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    memory_limit: int | None = None
    memory_reservation: int | None = None
    cpu_limit: float | None = None
    cpu_reservation: float | None = None
    healthcheck: list[str] | None = None  # Test, e.g. ["CMD", "true"] or ["NONE"]; None if unset
    env: list[EnvVar] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    update_config: UpdatePolicy | None = None
    rollback_config: UpdatePolicy | None = None
    restart_condition: str | None = None  # none | on-failure | any (None = default any)
    update_state: str | None = None  # updating | paused | completed | rollback_* | None
    update_message: str = ""
    update_started_at: datetime | None = None  # UpdateStatus.StartedAt
    networks: list[str] = field(default_factory=list)  # network ids the service attaches to
    log_driver: str | None = None
    secrets: list[str] = field(default_factory=list)  # secret names
    configs: list[str] = field(default_factory=list)  # config names
    published_ports: list[int] = field(default_factory=list)
    host_ports: list[int] = field(default_factory=list)  # published in host mode (no routing mesh)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    _memo: Memo = _memo_field()
    memo = _MEMO

    @property
    def deployed_image(self) -> str:
        """The image as deployed: the stack's label if present, else the spec image."""
        return self.labels.get("com.docker.stack.image") or self.image

    @property
    def is_infrastructure(self) -> bool:
        return self.labels.get(INFRA_LABEL) == INFRA_VALUE

    @property
    def is_singleton(self) -> bool:
        """Documented as meant to run on one node (label ``watchkeeper.singleton=true``)."""
        return self.labels.get(SINGLETON_LABEL, "").lower() == "true"

    @property
    def ingress_ports(self) -> list[int]:
        """Published ports that go through the routing mesh (every node, managers included)."""
        return [port for port in self.published_ports if port not in self.host_ports]

    @property
    def stack(self) -> str | None:
        return self.labels.get("com.docker.stack.namespace")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    service_id: str
    node_id: str | None
    state: str  # running | failed | rejected | shutdown | complete | ...
    desired_state: str
    image: str  # task spec image
    slot: int | None = None
    memory_limit: int | None = None
    memory_reservation: int | None = None
    cpu_limit: float | None = None
    cpu_reservation: float | None = None
    timestamp: datetime | None = None  # Status.Timestamp
    error: str = ""

    def reserved(self, service: Service | None) -> tuple[float, int]:
        """(CPUs, memory bytes) this task reserves: its own spec, else its service's."""
        cpu = self.cpu_reservation
        memory = self.memory_reservation
        if cpu is None and service is not None:
            cpu = service.cpu_reservation
        if memory is None and service is not None:
            memory = service.memory_reservation
        return cpu or 0.0, memory or 0


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    name: str
    driver: str
    scope: str
    encrypted: bool = False
    ingress: bool = False
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SecretMeta:
    """Secret or config metadata: never its data."""

    id: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """A node or service event from /events."""

    type: str  # node | service
    action: str  # create | update | remove
    actor_id: str
    time: datetime
    attributes: dict[str, str] = field(default_factory=dict)  # name, state.old, state.new, ...


@dataclass(frozen=True, slots=True)
class SwarmInfo:
    cluster_id: str = ""
    created_at: datetime | None = None
    autolock: bool = False
    node_cert_expiry_ns: int | None = None  # Spec.CAConfig.NodeCertExpiry
    default_log_driver: str = ""  # /info LoggingDriver of the polled manager
    # /swarm Spec.TaskDefaults.LogDriver.Name: the swarm-wide default for services ("" = none
    # set); None when /swarm was not read (older snapshots)
    task_log_driver: str | None = None
    # Short SHA-256 fingerprints of the worker and manager join tokens (never the tokens) and
    # the earliest moment Watchkeeper saw each ("" / None when /swarm was not read).
    worker_token_fingerprint: str = ""
    worker_token_seen_since: datetime | None = None
    manager_token_fingerprint: str = ""
    manager_token_seen_since: datetime | None = None
    server_version: str = ""
    managers: int = 0
    nodes: int = 0
    control_available: bool = True


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: datetime
    swarm: SwarmInfo
    nodes: list[Node] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)  # running tasks + failed/rejected of last hour
    networks: list[Network] = field(default_factory=list)
    secrets: list[SecretMeta] = field(default_factory=list)
    configs: list[SecretMeta] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # node + service events since last poll
    events_truncated: bool = False  # the engine's event buffer (256) may have dropped some
    # Image reference (as in ContainerSpec.Image) -> the image config's Healthcheck.Test as the
    # manager reports it ([] when the image defines none). A reference the manager could not
    # inspect (not pulled there, 404, over the per-poll bound) is absent: unknown.
    images: dict[str, list[str]] = field(default_factory=dict)
    _memo: Memo = _memo_field()
    memo = _MEMO

    def running_tasks(self) -> list[Task]:
        return list(self._task_index()[0])

    def tasks_of_service(self, service_id: str) -> list[Task]:
        """Every task of the service (any state), in snapshot order."""
        return self._task_index()[1].get(service_id, [])

    def running_tasks_of_service(self, service_id: str) -> list[Task]:
        """The service's running tasks, in snapshot order."""
        return self._task_index()[2].get(service_id, [])

    def running_tasks_on_node(self, node_id: str | None) -> list[Task]:
        """The running tasks placed on the node, in snapshot order."""
        return self._task_index()[3].get(node_id, [])

    def _task_index(self) -> tuple:
        """Tasks indexed once per snapshot (rules ask per service and per node): Memo.tasks."""
        cached = self._memo.tasks  # the field, not the property: asked some 100,000 times a poll
        if cached is not None and cached[0] is self.tasks and cached[1] == len(self.tasks):
            return cached[2]
        running: list[Task] = []
        by_service: dict[str, list[Task]] = {}
        running_by_service: dict[str, list[Task]] = {}
        running_by_node: dict[str | None, list[Task]] = {}
        for task in self.tasks:
            by_service.setdefault(task.service_id, []).append(task)
            if task.state == "running":
                running.append(task)
                running_by_service.setdefault(task.service_id, []).append(task)
                running_by_node.setdefault(task.node_id, []).append(task)
        index = (running, by_service, running_by_service, running_by_node)
        self.memo.tasks = (self.tasks, len(self.tasks), index)
        return index

    def node_by_id(self) -> dict[str, Node]:
        return {node.id: node for node in self.nodes}

    def service_by_id(self) -> dict[str, Service]:
        return {service.id: service for service in self.services}


# --- (de)serialisation: JSON-able dicts for compressed storage ----------------

_NESTED = {
    "Snapshot": {
        "swarm": SwarmInfo,
        "nodes": Node,
        "services": Service,
        "tasks": Task,
        "networks": Network,
        "secrets": SecretMeta,
        "configs": SecretMeta,
        "events": Event,
    },
    "Service": {
        "env": EnvVar,
        "mounts": Mount,
        "update_config": UpdatePolicy,
        "rollback_config": UpdatePolicy,
    },
}
_DATETIMES = {
    "taken_at", "created_at", "updated_at", "timestamp", "time", "update_started_at",
    "worker_token_seen_since", "manager_token_seen_since",
}  # fmt: skip


def data_fields(cls: type) -> tuple[str, ...]:
    """The names of a snapshot dataclass's data fields (all but its memo), in order."""
    names = _DATA_FIELDS.get(cls)
    if names is None:
        names = _DATA_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


_DATA_FIELDS: dict[type, tuple[str, ...]] = {}


def to_dict(obj: Any) -> Any:
    """A JSON-able structure (datetimes as ISO strings) for any snapshot dataclass."""
    if dataclasses.is_dataclass(obj):
        return {name: to_dict(getattr(obj, name)) for name in data_fields(type(obj))}
    if isinstance(obj, list):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_dict(value) for key, value in obj.items()}
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def _build(cls, data: dict):
    nested = _NESTED.get(cls.__name__, {})
    known = data_fields(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            continue  # tolerate snapshots written by newer code
        if key in nested and value is not None:
            inner = nested[key]
            value = (
                [_build(inner, item) for item in value]
                if isinstance(value, list)
                else _build(inner, value)
            )
        elif key in _DATETIMES and isinstance(value, str):
            value = datetime.fromisoformat(value)
        kwargs[key] = value
    return cls(**kwargs)


def from_dict(data: dict) -> Snapshot:
    """Rebuild a Snapshot from to_dict() output."""
    return _build(Snapshot, data)


def swarm_from_dict(data: dict) -> SwarmInfo:
    """Rebuild a SwarmInfo from its to_dict() output (the "swarm" of a stored snapshot)."""
    return _build(SwarmInfo, data)
