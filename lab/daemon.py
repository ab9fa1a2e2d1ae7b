"""A lab node's dockerd: its memory as the node sees it, its command line, starting it in the
node's namespaces and reading its log. Lab.up and Lab.start_node drive these."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from lab.state import NodeState

TLS_PORT = 2376


def write_meminfo(node: NodeState, data_dir: Path) -> None:
    """Write a copy of /proc/meminfo whose MemTotal is the node's memory."""
    lines = Path("/proc/meminfo").read_text().splitlines()
    kib = node.spec.memory_kib
    out = [f"MemTotal:       {kib} kB" if ln.startswith("MemTotal:") else ln for ln in lines]
    (data_dir / "meminfo").write_text("\n".join(out) + "\n")


def dockerd_argv(node: NodeState, run_dir: Path, data: Path, tls: Path | None) -> list[str]:
    """The dockerd command line for a node (TLS: the lab's tls directory, served by the first
    node only)."""
    argv = [
        "dockerd", f"--data-root={data / 'data'}", f"--exec-root={run_dir / 'exec'}",
        f"--pidfile={run_dir / 'docker.pid'}", f"--host=unix://{run_dir / 'docker.sock'}",
        "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
        "--log-level=warn", "--shutdown-timeout=3",
    ]  # fmt: skip
    if tls is not None and node.index == 0:
        argv += [
            f"--host=tcp://{node.addr}:{TLS_PORT}", "--tlsverify",
            f"--tlscacert={tls / 'ca.pem'}", f"--tlscert={tls / 'server.pem'}",
            f"--tlskey={tls / 'server-key.pem'}",
        ]  # fmt: skip
    return argv


def start_dockerd(
    node: NodeState, argv: list[str], netns: str, data_dir: Path
) -> subprocess.Popen[bytes]:
    """Start a node's dockerd (ARGV) in its network namespace NETNS, with its own UTS and mount
    namespaces, its CPU set, memory (see write_meminfo) and hostname; log to DATA_DIR."""
    cpus = f"0-{node.cpus - 1}" if node.cpus > 1 else "0"
    meminfo = data_dir / "meminfo"
    script = (
        f"mount --bind {shlex.quote(str(meminfo))} /proc/meminfo"
        f" && hostname {shlex.quote(node.hostname)}"
        f" && exec taskset -c {cpus} {shlex.join(argv)}"
    )
    log = open(data_dir / "dockerd.log", "ab")  # noqa: SIM115 - handed to Popen
    with log:
        return subprocess.Popen(
            ["nsenter", f"--net={netns}", "unshare", "--uts", "--mount", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def log_tail(data_dir: Path, lines: int = 15) -> str:
    """The last lines of a node's daemon log."""
    try:
        text = (data_dir / "dockerd.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
