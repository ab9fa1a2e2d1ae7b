"""Thin helpers over ip(8), /proc and signals; no lab knowledge beyond names."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.spec import LabError

NETNS_DIR = Path("/run/netns")
POLL = 0.1


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, raising LabError with its stderr when it fails and check is set."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def netns_list() -> list[str]:
    """Return the names of all named network namespaces."""
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_inode(name: str) -> int | None:
    """Return the inode identifying a named network namespace, if it exists."""
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


def root_links() -> list[str]:
    """Return the interface names of the root network namespace."""
    out = run("ip", "-o", "link", "show", check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def root_ipv4() -> str:
    """Return `ip -4 addr` and `ip -4 route` output of the root namespace, for overlap checks."""
    addrs = run("ip", "-4", "-o", "addr", "show", check=False).stdout
    routes = run("ip", "-4", "route", "show", "table", "all", check=False).stdout
    return addrs + routes


@dataclass(frozen=True)
class Proc:
    """A snapshot of one process from /proc."""

    pid: int
    ppid: int
    state: str
    cmdline: str
    netns: int | None
    root: str


def _read_proc(pid: int) -> Proc | None:
    """Read one process's stat, cmdline, netns and root, or None when it has gone."""
    base = Path(f"/proc/{pid}")
    try:
        stat = (base / "stat").read_text()
        cmdline = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        netns: int | None = os.stat(base / "ns" / "net").st_ino
        root = os.readlink(base / "root")
    except OSError:
        netns, root = None, ""
    return Proc(pid, int(fields[1]), fields[0], cmdline, netns, root)


def processes() -> list[Proc]:
    """Return a snapshot of all live (non-zombie) processes except this one."""
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            proc = _read_proc(int(entry))
            if proc and proc.state not in ("Z", "X"):
                procs.append(proc)
    return procs


def with_descendants(roots: set[int], procs: list[Proc]) -> set[int]:
    """Return the given pids together with all their descendants."""
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for proc in procs:
            if proc.ppid in found and proc.pid not in found:
                found.add(proc.pid)
                changed = True
    return found


def pid_alive(pid: int) -> bool:
    """Tell whether a pid names a running, non-zombie process."""
    proc = _read_proc(pid)
    return proc is not None and proc.state not in ("Z", "X")


def pid_start_time(pid: int) -> int | None:
    """Return the kernel start time of a pid (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def reap(pid: int) -> None:
    """Collect an exited child so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def signal_pids(pids: set[int], sig: signal.Signals) -> None:
    """Send a signal to each pid, ignoring those that already went away."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """Wait until the pids have exited; return those still alive at the timeout."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive:
        for pid in list(alive):
            reap(pid)
            if not pid_alive(pid):
                alive.discard(pid)
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return alive


def stop_pids(pids: set[int], timeout: float) -> None:
    """SIGTERM the pids, SIGKILL what is left after the timeout, and wait for the end."""
    signal_pids(pids, signal.SIGTERM)
    left = wait_gone(pids, timeout)
    if left:
        signal_pids(left, signal.SIGKILL)
        left = wait_gone(left, 5)
    if left:
        raise LabError(f"processes would not exit: {sorted(left)}")


def kill_pids(pids: set[int]) -> None:
    """SIGKILL the pids and wait until they have exited."""
    signal_pids(pids, signal.SIGKILL)
    left = wait_gone(pids, 5)
    if left:
        raise LabError(f"processes survived SIGKILL: {sorted(left)}")


def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Call `check` every POLL seconds until it is true; raise LabError after timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL)
