"""The Lab: a real multi-node Docker Swarm in network namespaces on this host."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.nodes import Node
from docker.models.services import Service

from lab import image as lab_image
from lab.daemon import TLS_PORT, dockerd_argv, log_tail, start_dockerd, write_meminfo
from lab.network import create_fabric, create_node_net, host_addr, node_addr
from lab.services import nano, service_kwargs, wait_converged
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
from lab.system import pid_alive, pid_start_time, poll, reap, stop_pids
from lab.teardown import DAEMON_STOP_TIMEOUT, destroy
from lab.tls import TLSFiles, make_tls

NEEDED_TOOLS = ("dockerd", "containerd", "runc", "ip", "nsenter", "unshare", "taskset", "openssl")


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
        host_link: bool = False,
    ) -> None:
        """Describe a lab; nothing runs until `up()`. With tls or host_link, the host reaches
        the node addresses through a veth with the subnet's .1 address."""
        self.specs = list(nodes) if nodes is not None else default_nodes()
        hostnames = [s.hostname for s in self.specs]
        if len(set(hostnames)) != len(hostnames):
            raise LabError("node hostnames must be unique")
        if not self.specs or self.specs[0].role != "manager":
            raise LabError("the first node must be a manager")
        self.tls = tls
        self.host_link = host_link or tls
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
        lab = cls(
            [n.spec for n in state.nodes], tls=state.tls, name=prefix, host_link=state.host_link
        )
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
                host_link=self.host_link,
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

    # -- daemons (lab.daemon) ------------------------------------------------------------

    def _write_meminfo(self, node: NodeState) -> None:
        write_meminfo(node, self._data_dir(node))

    def _dockerd_argv(self, node: NodeState) -> list[str]:
        tls = self._state.data_dir / "tls" if self._state.tls else None
        return dockerd_argv(node, self._node_dir(node), self._data_dir(node), tls)

    def _start_daemon(self, node: NodeState) -> None:
        """Start a node's dockerd in its namespaces with its CPU set, memory and hostname."""
        netns = f"/run/netns/{self.prefix}-n{node.index}"
        proc = start_dockerd(node, self._dockerd_argv(node), netns, self._data_dir(node))
        self._procs[node.hostname] = proc
        node.pid = proc.pid
        self._state.save()

    def _log_tail(self, node: NodeState, lines: int = 15) -> str:
        return log_tail(self._data_dir(node), lines)

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
            dispatcher_heartbeat_period=nano(self.heartbeat_s),
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

    def pause_node(self, hostname: str) -> None:
        """Freeze a node's dockerd (SIGSTOP): it neither answers nor sends heartbeats."""
        os.kill(self._live_pid(hostname), signal.SIGSTOP)

    def resume_node(self, hostname: str) -> None:
        """Let a paused node's dockerd run on (SIGCONT)."""
        os.kill(self._live_pid(hostname), signal.SIGCONT)

    def _live_pid(self, hostname: str) -> int:
        node = self._state.node(hostname)
        if not node.pid or not pid_alive(node.pid):
            raise LabError(f"{hostname} is not running")
        return node.pid

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

    def wait_converged(self, service: Service | str, timeout: float = 30) -> None:
        """Wait until every task the service wants running is running."""
        wait_converged(self.client(), service, timeout)

    def create_service(self, spec: ServiceSpec) -> Service:
        """Create a service from a spec (the SDK sends the image as given, unresolved)."""
        kw = service_kwargs(spec)
        return self.client().services.create(spec.image, **kw)

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
