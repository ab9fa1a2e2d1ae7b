"""CLI: `python -m lab up|down|status|check` for detached labs (make lab, make run)."""

from __future__ import annotations

import argparse
import sys

from lab.core import Lab, host_support
from lab.demo import create_demo_services
from lab.spec import LabError
from lab.state import load_state, recorded_prefixes
from lab.teardown import cleanup


def detached_labs() -> list[str]:
    """Return the prefixes of running labs started from this CLI."""
    return [p for p in recorded_prefixes() if load_state(p).detached]


def cmd_up(args: argparse.Namespace) -> int:
    """Start a detached lab (or reuse one) and print its DOCKER_HOST."""
    reuse = [p for p in detached_labs() if not args.name or p == args.name] if args.reuse else []
    lab = Lab.attach(reuse[0]) if reuse else Lab(tls=args.tls, name=args.name, detached=True).up()
    if args.demo:
        create_demo_services(lab)
    if args.quiet:
        print(lab.docker_host)
        return 0
    print(f"lab {lab.prefix}: {', '.join(lab.hostnames)}")
    print(f"DOCKER_HOST={lab.docker_host}")
    if lab.tls:
        files = lab.tls_files
        print(f"TLS: {lab.tls_url} ca={files.ca} cert={files.cert} key={files.key}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Tear down one lab, the CLI's labs, or (--all) also labs left by dead processes."""
    if args.name:
        Lab.attach(args.name).down()
        print(f"removed {args.name}")
        return 0
    if not args.all and not args.force:
        for prefix in detached_labs():
            Lab.attach(prefix).down()
            print(f"removed {prefix}")
        return 0
    report = cleanup(detached=True, force=args.force)
    for prefix in report.removed:
        print(f"removed {prefix}")
    for prefix in report.kept:
        print(f"kept {prefix} (its owner process is alive; --force removes it)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """List the labs on this machine with their DOCKER_HOST and node states."""
    prefixes = recorded_prefixes()
    if not prefixes:
        print("no labs")
    for prefix in prefixes:
        state = load_state(prefix)
        owner = "detached" if state.detached else f"owner pid {state.owner_pid}"
        alive = "" if state.owner_alive() else " (owner dead: `down --all` removes it)"
        lab = Lab.attach(prefix)
        print(f"{prefix} 10.213.{state.subnet}.0/24 {owner}{alive}")
        print(f"  DOCKER_HOST={lab.docker_host}")
        for node in state.nodes:
            print(
                f"  {node.hostname:14} {node.role:8} {node.addr:15} {lab.node_state(node.hostname)}"
            )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when this machine can host a lab, else print why and exit 1."""
    reason = host_support()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    p = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a lab that outlives this command")
    up.add_argument("--tls", action="store_true", help="manager also serves tcp://ADDR:2376")
    up.add_argument("--name", help="lab prefix (wkl + up to 7 of [a-z0-9])")
    up.add_argument("--demo", action="store_true", help="create the demo services")
    up.add_argument("--reuse", action="store_true", help="reuse a running CLI lab if any")
    up.add_argument("--quiet", action="store_true", help="print only DOCKER_HOST")
    down = sub.add_parser("down", help="tear down CLI labs (default), one lab, or leftovers")
    down.add_argument("--name", help="tear down this lab")
    down.add_argument("--all", action="store_true", help="also labs of dead processes, orphans")
    down.add_argument("--force", action="store_true", help="also labs of live processes")
    sub.add_parser("status", help="list labs")
    sub.add_parser("check", help="can this machine host a lab?")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI."""
    args = parser().parse_args(argv)
    commands = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "check": cmd_check}
    if args.cmd != "check" and (reason := host_support()):
        print(f"cannot run the lab here: {reason}", file=sys.stderr)
        return 2
    try:
        return commands[args.cmd](args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
