"""The Lab: a real multi-node Docker Swarm in network namespaces on this host."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.nodes import Node
from docker.models.services import Service
from docker.types import (
    Healthcheck,
    Resources,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    UpdateConfig,
)

from lab import image as lab_image
from lab.network import create_fabric, create_node_net, host_addr, node_addr
from lab.spec import LabError, NodeSpec, ServiceSpec, default_nodes
from lab.state import (
    STATE_ROOT,
    LabState,
    NodeState,
    free_subnet,
    load_state,
    new_prefix,
    registry_lock,
)
from lab.system import pid_alive, pid_start_time, reap, stop_pids
from lab.teardown import DAEMON_STOP_TIMEOUT, destroy
from lab.tls import TLSFiles, make_tls

TLS_PORT = 2376
NEEDED_TOOLS = ("dockerd", "containerd", "runc", "ip", "nsenter", "unshare", "taskset", "openssl")
POLL = 0.1


def host_support() -> str | None:
    """Return why this machine cannot host a lab, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "the lab needs Linux"
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, dockerd)"
    missing = [t for t in NEEDED_TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (run `make lab-deps`)"
    try:
        lab_image.busybox_path()
    except LabError as exc:
        return str(exc)
    return None


def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Call `check` every POLL seconds until it is true; raise LabError after timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL)


def _nano(seconds: float) -> int:
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
            cpu_limit=_nano(spec.cpu_limit) if spec.cpu_limit else None,
            mem_limit=spec.memory_limit,
            mem_reservation=spec.memory_reservation,
        )
    if spec.healthcheck:
        interval = _nano(spec.health_interval_s)
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


class Lab:
    """A Docker Swarm of real dockerd nodes, each in its own network namespace."""

    def __init__(
        self,
        nodes: Iterable[NodeSpec] | None = None,
        *,
        tls: bool = False,
        name: str | None = None,
        detached: bool = False,
        heartbeat_s: float = 2.0,
    ) -> None:
        """Describe a lab; nothing runs until `up()`."""
        self.specs = list(nodes) if nodes is not None else default_nodes()
        hostnames = [s.hostname for s in self.specs]
        if len(set(hostnames)) != len(hostnames):
            raise LabError("node hostnames must be unique")
        if not self.specs or self.specs[0].role != "manager":
            raise LabError("the first node must be a manager")
        self.tls = tls
        self.name = name
        self.detached = detached
        self.heartbeat_s = heartbeat_s
        self.state: LabState | None = None
        self.up_seconds: float | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._clients: dict[str, docker.DockerClient] = {}

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def attach(cls, prefix: str) -> Lab:
        """Return a Lab driving an existing lab recorded under `prefix`."""
        state = load_state(prefix)
        lab = cls([n.spec for n in state.nodes], tls=state.tls, name=prefix)
        lab.detached, lab.state = state.detached, state
        return lab

    def up(self) -> Self:
        """Build the network, start every daemon, form the swarm and import the image."""
        if self.state is not None:
            raise LabError(f"lab {self.prefix} is already up")
        started = time.monotonic()
        try:
            self._allocate()
            self._build()
        except BaseException:
            self.down()
            raise
        self.up_seconds = time.monotonic() - started
        return self

    @property
    def dirs(self) -> list[Path]:
        """Return the lab's runtime and data directories."""
        return [self._state.run_dir, self._state.data_dir]

    def down(self) -> None:
        """Remove services, stop the daemons and delete everything the lab made."""
        if self.state is None:
            return
        try:
            self._remove_services()
        finally:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            destroy(self.state)
            for proc in self._procs.values():
                proc.poll()
            self.state = None

    def __enter__(self) -> Self:
        """Bring the lab up for a with-block."""
        return self.up()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Tear the lab down, whatever happened in the block."""
        self.down()

    def _allocate(self) -> None:
        """Reserve a prefix and a subnet and record the lab before creating anything."""
        with registry_lock():
            prefix, subnet = new_prefix(self.name), free_subnet()
            owner = None if self.detached else os.getpid()
            nodes = [
                NodeState(s.hostname, s.role, s.cpus, s.memory_gib, i, node_addr(subnet, i))
                for i, s in enumerate(self.specs)
            ]
            self.state = LabState(
                prefix=prefix,
                subnet=subnet,
                state_dir=str(STATE_ROOT / prefix),
                owner_pid=owner,
                owner_start=pid_start_time(owner) if owner else None,
                tls=self.tls,
                host_link=self.tls,
                nodes=nodes,
            )
            self.state.save()

    def _build(self) -> None:
        """Create network and daemons, then the swarm."""
        state = self._state
        create_fabric(state)
        for node in state.nodes:
            create_node_net(state, node.index, node.addr)
            self._node_dir(node).mkdir(parents=True, exist_ok=True)
            self._data_dir(node).mkdir(parents=True, exist_ok=True)
            self._write_meminfo(node)
        if self.tls:
            first = state.nodes[0]
            make_tls(
                self._state.data_dir / "tls", first.hostname, [first.addr, host_addr(state.subnet)]
            )
        for node in state.nodes:
            self._start_daemon(node)
        tar = lab_image.rootfs_tar()
        with ThreadPoolExecutor(max_workers=len(state.nodes)) as pool:
            list(pool.map(lambda n: self._wait_daemon(n), state.nodes))
            self._init_swarm()
            list(pool.map(lambda n: self._import_image(n, tar), state.nodes))
            self._join_all(pool)
        for node in state.nodes:
            self.wait_node_state(node.hostname, "ready", timeout=30)

    # -- paths and clients --------------------------------------------------------------

    @property
    def _state(self) -> LabState:
        """Return the recorded state, or raise when the lab is not up."""
        if self.state is None:
            raise LabError("the lab is not up")
        return self.state

    @property
    def prefix(self) -> str:
        """Return the lab's unique prefix (names of namespaces, links and directories)."""
        return self._state.prefix

    def _node_dir(self, node: NodeState) -> Path:
        """Return the node's short runtime directory (socket, pidfile, exec root)."""
        return self._state.run_dir / f"n{node.index}"

    def _data_dir(self, node: NodeState) -> Path:
        """Return the node's directory for data root, log and meminfo."""
        return self._state.data_dir / f"n{node.index}"

    def node_socket(self, hostname: str) -> Path:
        """Return the unix socket path of a node's daemon."""
        return self._node_dir(self._state.node(hostname)) / "docker.sock"

    @property
    def docker_host(self) -> str:
        """Return DOCKER_HOST for the first manager."""
        return f"unix://{self.node_socket(self._state.nodes[0].hostname)}"

    @property
    def manager(self) -> str:
        """Return the hostname of the first manager."""
        return self._state.nodes[0].hostname

    @property
    def hostnames(self) -> list[str]:
        """Return all node hostnames in spec order."""
        return [n.hostname for n in self._state.nodes]

    def node_addr(self, hostname: str) -> str:
        """Return a node's address on the lab subnet."""
        return self._state.node(hostname).addr

    @property
    def tls_url(self) -> str:
        """Return the TLS endpoint of the first manager (reachable from the host)."""
        if not self._state.tls:
            raise LabError("this lab was started without tls=True")
        return f"tcp://{self._state.nodes[0].addr}:{TLS_PORT}"

    @property
    def tls_files(self) -> TLSFiles:
        """Return the client's CA, certificate and key paths."""
        d = self._state.data_dir / "tls"
        if not self._state.tls:
            raise LabError("this lab was started without tls=True")
        return TLSFiles(d / "ca.pem", d / "client.pem", d / "client-key.pem")

    def client(self, hostname: str | None = None) -> docker.DockerClient:
        """Return a (cached) docker client for a node, by default the first manager."""
        hostname = hostname or self.manager
        if hostname not in self._clients:
            url = f"unix://{self.node_socket(hostname)}"
            self._clients[hostname] = docker.DockerClient(base_url=url, version="auto", timeout=30)
        return self._clients[hostname]

    def _fresh_client(self, node: NodeState) -> docker.DockerClient:
        """Return a new client for a node, replacing the cached one."""
        old = self._clients.pop(node.hostname, None)
        if old is not None:
            old.close()
        return self.client(node.hostname)

    # -- daemons -----------------------------------------------------------------------

    def _write_meminfo(self, node: NodeState) -> None:
        """Write a copy of /proc/meminfo whose MemTotal is the node's memory."""
        lines = Path("/proc/meminfo").read_text().splitlines()
        kib = node.spec.memory_kib
        out = [f"MemTotal:       {kib} kB" if ln.startswith("MemTotal:") else ln for ln in lines]
        (self._data_dir(node) / "meminfo").write_text("\n".join(out) + "\n")

    def _dockerd_argv(self, node: NodeState) -> list[str]:
        """Return the dockerd command line for a node."""
        run_dir, data = self._node_dir(node), self._data_dir(node)
        argv = [
            "dockerd", f"--data-root={data / 'data'}", f"--exec-root={run_dir / 'exec'}",
            f"--pidfile={run_dir / 'docker.pid'}", f"--host=unix://{run_dir / 'docker.sock'}",
            "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
            "--log-level=warn", "--shutdown-timeout=3",
        ]  # fmt: skip
        if self._state.tls and node.index == 0:
            tls = self._state.data_dir / "tls"
            argv += [
                f"--host=tcp://{node.addr}:{TLS_PORT}", "--tlsverify",
                f"--tlscacert={tls / 'ca.pem'}", f"--tlscert={tls / 'server.pem'}",
                f"--tlskey={tls / 'server-key.pem'}",
            ]  # fmt: skip
        return argv

    def _start_daemon(self, node: NodeState) -> None:
        """Start a node's dockerd in its namespaces with its CPU set, memory and hostname."""
        cpus = f"0-{node.cpus - 1}" if node.cpus > 1 else "0"
        meminfo = self._data_dir(node) / "meminfo"
        script = (
            f"mount --bind {shlex.quote(str(meminfo))} /proc/meminfo"
            f" && hostname {shlex.quote(node.hostname)}"
            f" && exec taskset -c {cpus} {shlex.join(self._dockerd_argv(node))}"
        )
        ns = f"/run/netns/{self.prefix}-n{node.index}"
        log = open(self._data_dir(node) / "dockerd.log", "ab")  # noqa: SIM115 - handed to Popen
        with log:
            proc = subprocess.Popen(
                ["nsenter", f"--net={ns}", "unshare", "--uts", "--mount", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._procs[node.hostname] = proc
        node.pid = proc.pid
        self._state.save()

    def _log_tail(self, node: NodeState, lines: int = 15) -> str:
        """Return the last lines of a node's daemon log."""
        try:
            text = (self._data_dir(node) / "dockerd.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_daemon(self, node: NodeState, timeout: float = 30) -> None:
        """Wait until a node's daemon answers on its socket."""
        sock = self._node_dir(node) / "docker.sock"

        def ready() -> bool:
            if node.pid is None or not pid_alive(node.pid):
                raise LabError(f"dockerd of {node.hostname} exited:\n{self._log_tail(node)}")
            if not sock.exists():
                return False
            try:
                return bool(self._fresh_client(node).ping())
            except DockerException:
                return False

        poll(ready, timeout, f"dockerd of {node.hostname}")

    def _stop_daemon(self, node: NodeState) -> None:
        """Stop a node's dockerd and wait for it to exit."""
        client = self._clients.pop(node.hostname, None)
        if client is not None:
            client.close()
        if node.pid:
            stop_pids({node.pid}, DAEMON_STOP_TIMEOUT)
            reap(node.pid)
        node.pid = None
        self._state.save()

    def _import_image(self, node: NodeState, tar: bytes) -> None:
        """Import the busybox root filesystem as the default image on a node."""
        client = self.client(node.hostname)
        repo, tag = lab_image.image_repo_tag()
        client.api.import_image_from_data(
            tar, repository=repo, tag=tag, changes=lab_image.IMAGE_CHANGES
        )
        for extra in lab_image.EXTRA_TAGS:
            client.images.get(f"{repo}:{tag}").tag(repo, extra)

    # -- swarm -------------------------------------------------------------------------

    def _init_swarm(self) -> None:
        """Initialise the swarm on the first manager."""
        first = self._state.nodes[0]
        self.client(first.hostname).swarm.init(
            advertise_addr=first.addr,
            listen_addr=f"{first.addr}:2377",
            dispatcher_heartbeat_period=_nano(self.heartbeat_s),
        )

    def _join(self, node: NodeState) -> None:
        """Join one node to the swarm with the token for its role."""
        first = self._state.nodes[0]
        tokens = self.client(first.hostname).swarm.attrs["JoinTokens"]
        self.client(node.hostname).swarm.join(
            remote_addrs=[f"{first.addr}:2377"],
            join_token=tokens["Manager" if node.role == "manager" else "Worker"],
            listen_addr=f"{node.addr}:2377",
            advertise_addr=node.addr,
        )

    def _join_all(self, pool: ThreadPoolExecutor) -> None:
        """Join further managers one by one (raft), then all workers at once."""
        self.client(self.manager).swarm.reload()
        rest = self._state.nodes[1:]
        for node in [n for n in rest if n.role == "manager"]:
            self._join(node)
        list(pool.map(self._join, [n for n in rest if n.role == "worker"]))

    def swarm_node(self, hostname: str) -> Node:
        """Return the manager's view of a node."""
        for node in self.client().nodes.list(filters={"name": hostname}):
            if node.attrs["Description"]["Hostname"] == hostname:
                return node
        raise LabError(f"the manager does not know node {hostname}")

    def node_state(self, hostname: str) -> str:
        """Return the node's state as the manager reports it (ready, down, ...)."""
        try:
            return str(self.swarm_node(hostname).attrs["Status"]["State"])
        except LabError:
            return "unknown"

    def wait_node_state(self, hostname: str, state: str, timeout: float = 60) -> None:
        """Wait until the manager reports the node in `state`."""
        poll(lambda: self.node_state(hostname) == state, timeout, f"{hostname} to be {state}")

    def stop_node(self, hostname: str) -> None:
        """Stop a node's daemon (the machine is 'off')."""
        self._stop_daemon(self._state.node(hostname))

    def start_node(self, hostname: str) -> None:
        """Start a stopped node's daemon again and wait until it answers."""
        node = self._state.node(hostname)
        if node.pid and pid_alive(node.pid):
            raise LabError(f"{hostname} is already running")
        self._start_daemon(node)
        self._wait_daemon(node)

    def restart_node(
        self, hostname: str, downtime: float | None = None, timeout: float = 60
    ) -> None:
        """Reboot a node as the swarm sees it: stop, stay down, start, wait until ready.

        With downtime=None the node stays off until the manager reports it down;
        otherwise it stays off for `downtime` seconds.
        """
        if hostname == self.manager:
            raise LabError("restarting the first manager would lose the lab's control socket")
        self.stop_node(hostname)
        if downtime is None:
            self.wait_node_state(hostname, "down", timeout)
        else:
            time.sleep(downtime)
        self.start_node(hostname)
        self.wait_node_state(hostname, "ready", timeout)

    def _set_availability(self, hostname: str, availability: str) -> None:
        """Set a node's availability (active, pause, drain)."""
        node = self.swarm_node(hostname)
        spec = dict(node.attrs["Spec"], Availability=availability)
        node.update(spec)

    def drain(self, hostname: str) -> None:
        """Drain a node: the swarm moves its tasks elsewhere."""
        self._set_availability(hostname, "drain")

    def activate(self, hostname: str) -> None:
        """Make a drained or paused node active again."""
        self._set_availability(hostname, "active")

    # -- services ----------------------------------------------------------------------

    def create_service(self, spec: ServiceSpec) -> Service:
        """Create a service from a spec (the SDK sends the image as given, unresolved)."""
        kw = service_kwargs(spec)
        return self.client().services.create(spec.image, **kw)

    def wait_converged(self, service: Service | str, timeout: float = 30) -> None:
        """Wait until every task the service wants running is running."""
        svc = self.client().services.get(service if isinstance(service, str) else service.id)
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

    def _clear_containers(self, node: NodeState) -> None:
        """Force-remove a node's remaining containers (no stop grace) and wait until none."""
        client = self.client(node.hostname)

        def empty() -> bool:
            containers = client.containers.list(all=True)
            for container in containers:
                with contextlib.suppress(NotFound, APIError):
                    container.remove(force=True)
            return not containers

        poll(empty, 15, f"containers on {node.hostname} to go")

    def _remove_services(self) -> None:
        """Remove all services and wait until no node runs a container."""
        state = self._state
        live = [n for n in state.nodes if n.pid and pid_alive(n.pid)]
        managers = [n for n in live if n.role == "manager"]
        if not managers:
            return
        try:
            for svc in self.client(managers[0].hostname).services.list():
                svc.remove()
            for node in live:
                self._clear_containers(node)
        except (DockerException, LabError) as exc:
            print(
                f"lab {state.prefix}: service removal incomplete ({exc}); killing", file=sys.stderr
            )
