"""Where labs live on disk, their recorded state, and allocation of prefixes and subnets."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.spec import LabError, NodeSpec
from lab.system import netns_list, pid_alive, pid_start_time, root_ipv4

REPO = Path(__file__).resolve().parent.parent
RUN_ROOT = Path(os.environ.get("WK_LAB_RUN", "/run/wk-lab"))
STATE_ROOT = Path(os.environ.get("WK_LAB_STATE", str(REPO / ".lab")))
PREFIX_RE = re.compile(r"^wkl[a-z0-9]{1,7}$")
SUBNET_BASE = "10.213"


@dataclass
class NodeState:
    """A node as recorded on disk: its spec, index, address and daemon pid."""

    hostname: str
    role: str
    cpus: int
    memory_gib: float
    index: int
    addr: str
    pid: int | None = None

    @property
    def spec(self) -> NodeSpec:
        """Return the node's spec."""
        return NodeSpec(self.hostname, self.role, self.cpus, self.memory_gib)  # type: ignore[arg-type]


@dataclass
class LabState:
    """Everything needed to drive or destroy a lab from another process."""

    prefix: str
    subnet: int
    state_dir: str
    owner_pid: int | None
    owner_start: int | None
    tls: bool = False
    host_link: bool = False
    nodes: list[NodeState] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        """Return the short runtime directory holding sockets and exec roots."""
        return RUN_ROOT / self.prefix

    @property
    def data_dir(self) -> Path:
        """Return the directory holding data roots, logs and certificates."""
        return Path(self.state_dir)

    @property
    def detached(self) -> bool:
        """Tell whether the lab outlives its creator (started from the CLI)."""
        return self.owner_pid is None

    def owner_alive(self) -> bool:
        """Tell whether the process that owns this lab still runs."""
        if self.owner_pid is None:
            return True
        return pid_alive(self.owner_pid) and pid_start_time(self.owner_pid) == self.owner_start

    def node(self, hostname: str) -> NodeState:
        """Return the recorded node with this hostname."""
        for node in self.nodes:
            if node.hostname == hostname:
                return node
        raise LabError(f"lab {self.prefix} has no node {hostname!r}")

    def save(self) -> None:
        """Write the state atomically to the runtime directory."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.run_dir / "state.json")


def load_state(prefix: str) -> LabState:
    """Load a lab's recorded state."""
    path = RUN_ROOT / prefix / "state.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LabError(f"no readable lab state at {path}: {exc}") from exc
    nodes = [NodeState(**n) for n in raw.pop("nodes")]
    return LabState(**raw, nodes=nodes)


def recorded_prefixes() -> list[str]:
    """Return the prefixes of all labs with a state file on this machine."""
    if not RUN_ROOT.is_dir():
        return []
    return sorted(p.parent.name for p in RUN_ROOT.glob("*/state.json"))


@contextmanager
def registry_lock() -> Iterator[None]:
    """Serialise allocation of prefixes and subnets across processes."""
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    with open(RUN_ROOT / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_prefix(name: str | None) -> str:
    """Return the requested prefix after validation, or a fresh random one."""
    prefix = name or f"wkl{secrets.token_hex(3)}"
    if not PREFIX_RE.match(prefix):
        raise LabError(f"lab name {prefix!r} must match {PREFIX_RE.pattern}")
    taken = set(recorded_prefixes()) | {ns.split("-")[0] for ns in netns_list()}
    if prefix in taken:
        raise LabError(f"lab {prefix} already exists")
    return prefix


def free_subnet() -> int:
    """Pick a 10.213.X.0/24 that no recorded lab and no root-namespace address uses."""
    used = set()
    for prefix in recorded_prefixes():
        try:
            used.add(load_state(prefix).subnet)
        except LabError:
            continue
    root = root_ipv4()
    candidates = [x for x in range(1, 255) if x not in used and f"{SUBNET_BASE}.{x}." not in root]
    if not candidates:
        raise LabError("no free lab subnet left in 10.213.0.0/16")
    return candidates[secrets.randbelow(len(candidates))]
