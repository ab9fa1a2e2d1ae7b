"""Where a service's tasks may run, by swarmkit's placement semantics (pure).

One definition for the readiness rules, the capacity arithmetic (clusters.capacity) and the
reboot planner: constraints as swarmkit's manager/constraint parses and matches them.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from clusters.snapshot import Node, Service

MIB = 1024**2
GIB = 1024**3
JOB_MODES = {"replicated-job", "global-job"}
# swarmkit manager/constraint: the key and value alphabets it accepts.
_CONSTRAINT_KEY = re.compile(r"^[a-z_][a-z0-9\-_.]+$", re.IGNORECASE)
_CONSTRAINT_VALUE = re.compile(r"^[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+$", re.IGNORECASE)


def is_job(service: Service) -> bool:
    return service.mode in JOB_MODES


def human_bytes(value: int | None) -> str:
    if value is None:
        return "none"
    if value >= GIB:
        return f"{value / GIB:.1f} GiB"
    return f"{value / MIB:.0f} MiB"


@lru_cache(maxsize=4096)
def parse_constraint(text: str) -> tuple[str, str, str] | None:
    """(key, operator, value) of a placement constraint, or None if swarmkit would refuse it.

    As swarmkit's ``manager/constraint`` parses: ``==`` is looked for first, then ``!=``; key and
    value are trimmed; only those two operators exist.
    """
    for operator in ("==", "!="):
        if operator in text:
            key, _, value = text.partition(operator)
            key, value = key.strip(), value.strip()
            if not _CONSTRAINT_KEY.match(key) or not _CONSTRAINT_VALUE.match(value):
                return None
            return key, operator, value
    return None


_NODE_LABELS, _ENGINE_LABELS = "node.labels.", "engine.labels."


def node_attribute(node: Node, key: str) -> str | None:
    """The value a placement constraint KEY reads on NODE: keys and the ``node.labels.`` /
    ``engine.labels.`` prefixes are case-insensitive, a missing label reads as "" (swarmkit's
    semantics), an unknown key as None (it matches no node)."""
    lowered = key.lower()
    fixed = {
        "node.role": node.role,
        "node.hostname": node.hostname,
        "node.id": node.id,
        "node.platform.os": node.os,
        "node.platform.arch": node.arch,
    }
    if lowered in fixed:
        return fixed[lowered] or ""
    if lowered.startswith(_NODE_LABELS) and len(key) > len(_NODE_LABELS):
        return node.labels.get(key[len(_NODE_LABELS) :], "")
    if lowered.startswith(_ENGINE_LABELS) and len(key) > len(_ENGINE_LABELS):
        return node.engine_labels.get(key[len(_ENGINE_LABELS) :], "")
    return None


def _ip_matches(node: Node, value: str) -> bool | None:
    """Whether the node's address is VALUE (an address or a CIDR); None if VALUE is neither."""
    try:
        address = ipaddress.ip_address(node.addr)  # Status.Addr: an address, no port
    except ValueError:
        address = None
    try:
        return address is not None and address == ipaddress.ip_address(value)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return address is not None and address in network


def constraint_matches(node: Node, constraint: str) -> bool:
    """Swarmkit's ``NodeMatches`` for one constraint: values compare case-insensitively, a
    missing label equals "" (so ``!=`` matches it), ``node.ip`` takes an address or a CIDR."""
    parsed = parse_constraint(constraint)
    if parsed is None:
        return False
    key, operator, value = parsed
    if key.lower() == "node.ip":
        matched = _ip_matches(node, value)
        if matched is None:
            return False  # swarmkit: neither an address nor a CIDR matches no node
        return matched if operator == "==" else not matched
    actual = node_attribute(node, key)
    if actual is None:
        return False
    equal = actual.casefold() == value.casefold()
    return equal if operator == "==" else not equal


_PIN_KEYS = {"node.hostname", "node.id", "node.ip"}


def single_node_pin(service: Service) -> str | None:
    """The constraint that names one node by itself (``node.hostname==``, ``node.id==``, or
    ``node.ip==`` with one address), or None."""
    for constraint in service.constraints:
        parsed = parse_constraint(constraint)
        if parsed is None or parsed[1] != "==" or parsed[0].lower() not in _PIN_KEYS:
            continue
        if parsed[0].lower() == "node.ip":
            try:
                ipaddress.ip_address(parsed[2])
            except ValueError:
                continue
        return constraint
    return None


def placeable_nodes(service: Service, nodes) -> list[Node]:
    """The NODES that satisfy every placement constraint of SERVICE (swarmkit semantics)."""
    if not service.constraints:
        return list(nodes)
    return [n for n in nodes if all(constraint_matches(n, c) for c in service.constraints)]


def node_label_constraints(service: Service) -> list[tuple[str, str]]:
    """(label, value) pairs of the service's ``node.labels.X == value`` constraints."""
    pairs = []
    for constraint in service.constraints:
        parsed = parse_constraint(constraint)
        if parsed and parsed[0].startswith("node.labels.") and parsed[1] == "==":
            pairs.append((parsed[0].removeprefix("node.labels."), parsed[2]))
    return pairs
