"""Teardown that leaves no daemon, process, namespace, mount or file behind."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lab.network import delete_net, host_link_name
from lab.state import PREFIX_RE, RUN_ROOT, STATE_ROOT, LabState, load_state, recorded_prefixes
from lab.system import (
    kill_pids,
    netns_inode,
    netns_list,
    processes,
    root_links,
    run,
    stop_pids,
    with_descendants,
)

DAEMON_STOP_TIMEOUT = 20.0


def lab_pids(prefix: str, dirs: list[Path]) -> set[int]:
    """Return pids that belong to a lab: by path, namespace or root, with descendants."""
    procs = processes()
    inodes = {
        ino
        for ns in netns_list()
        if ns.startswith(f"{prefix}-") and (ino := netns_inode(ns)) is not None
    }
    marks = [str(d) for d in dirs]
    roots = {
        p.pid
        for p in procs
        if any(m in p.cmdline or p.root.startswith(m) for m in marks) or p.netns in inodes
    }
    return with_descendants(roots, procs)


def unmount_under(dirs: list[Path]) -> None:
    """Lazily unmount anything still mounted below the lab's directories."""
    marks = [str(d) + "/" for d in dirs]
    with open("/proc/mounts") as fh:
        targets = [line.split()[1] for line in fh]
    for target in sorted(targets, key=len, reverse=True):
        if any(target.startswith(m) for m in marks):
            run("umount", "-l", target, check=False)


def remove_dirs(dirs: list[Path]) -> None:
    """Delete the lab's directories (the runtime one, holding the state file, last)."""
    for d in dirs:
        if d.exists():
            shutil.rmtree(d)


def destroy(state: LabState) -> None:
    """Stop daemons, end what is left by pid, then delete namespaces and files."""
    dirs = [state.run_dir, state.data_dir]
    daemons = {n.pid for n in state.nodes if n.pid}
    stop_pids(daemons, DAEMON_STOP_TIMEOUT)
    kill_pids(lab_pids(state.prefix, dirs))
    delete_net(state.prefix)
    unmount_under(dirs)
    remove_dirs([state.data_dir, state.run_dir])


def destroy_orphan(prefix: str) -> None:
    """Remove the traces of a lab whose state file is gone."""
    dirs = [RUN_ROOT / prefix, STATE_ROOT / prefix]
    stop_pids(lab_pids(prefix, dirs), 5)
    delete_net(prefix)
    unmount_under(dirs)
    remove_dirs(dirs)


@dataclass
class CleanupReport:
    """What a cleanup pass removed and what it left alone."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def orphan_prefixes(keep: set[str]) -> set[str]:
    """Return prefixes with namespaces, links or directories but no state file.

    State is written before a lab creates anything and deleted after everything else, so
    reading the recorded prefixes *after* looking at the traces never sees a lab being built
    as an orphan.
    """
    seen = {ns.split("-")[0] for ns in netns_list()}
    seen |= {link[:-1] for link in root_links() if link.endswith("h")}
    for root in (RUN_ROOT, STATE_ROOT):
        if root.is_dir():
            seen |= {p.name for p in root.iterdir() if p.is_dir()}
    recorded = set(recorded_prefixes()) | keep
    return {p for p in seen if PREFIX_RE.match(p) and p not in recorded}


def cleanup(*, detached: bool, force: bool = False) -> CleanupReport:
    """Destroy labs whose owner died (and detached ones, and live ones with force)."""
    report = CleanupReport()
    recorded = set(recorded_prefixes())
    for prefix in sorted(recorded):
        state = load_state(prefix)
        dead = state.owner_pid is not None and not state.owner_alive()
        if dead or force or (detached and state.detached):
            destroy(state)
            report.removed.append(prefix)
        else:
            report.kept.append(prefix)
    for prefix in sorted(orphan_prefixes(set(report.kept))):
        destroy_orphan(prefix)
        report.removed.append(prefix)
    return report


def traces(prefix: str, dirs: list[Path]) -> dict[str, list[str]]:
    """Return whatever of a lab still exists: namespaces, links, mounts, processes, files."""
    with open("/proc/mounts") as fh:
        mounts = [line.split()[1] for line in fh]
    marks = [str(d) for d in dirs] + [f"/run/netns/{prefix}-"]
    return {
        "netns": [ns for ns in netns_list() if ns.startswith(f"{prefix}-")],
        "links": [link for link in root_links() if link == host_link_name(prefix)],
        "mounts": [m for m in mounts if any(m.startswith(mark) for mark in marks)],
        "pids": [str(pid) for pid in sorted(lab_pids(prefix, dirs))],
        "files": [str(d) for d in dirs if d.exists()],
    }
