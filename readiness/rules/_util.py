"""Small pure helpers the rules share."""

from __future__ import annotations

import fnmatch
import ipaddress
import re

from clusters.envscan import SECRET_NAME, secret_like_name  # noqa: F401 - one definition
from clusters.snapshot import Node, Service

MIB = 1024**2
GIB = 1024**3
JOB_MODES = {"replicated-job", "global-job"}
DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
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


def parse_image(ref: str) -> tuple[str, str, str | None, str | None]:
    """(registry host, repository path, tag, digest) of an image reference.

    A registry port is not a tag: ``registry:5000/app`` has no tag.
    """
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    path = name[: len(name) - len(tag) - 1] if tag is not None else name
    first, _, rest = path.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, rest
    else:
        host, repo = "docker.io", path
    if host in DOCKER_HUB_HOSTS:
        host = "docker.io"
        if "/" not in repo:
            repo = "library/" + repo
    return host, repo, tag, digest or None


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
    return [n for n in nodes if all(constraint_matches(n, c) for c in service.constraints)]


def node_label_constraints(service: Service) -> list[tuple[str, str]]:
    """(label, value) pairs of the service's ``node.labels.X == value`` constraints."""
    pairs = []
    for constraint in service.constraints:
        parsed = parse_constraint(constraint)
        if parsed and parsed[0].startswith("node.labels.") and parsed[1] == "==":
            pairs.append((parsed[0].removeprefix("node.labels."), parsed[2]))
    return pairs


# Host paths a container must not see (a `*` is one path segment). A mount of one of these, of
# anything below one, or of a parent of one (`/`, `/etc`, `/var`, `/home/alice`) hands it over;
# `/etc/app` is an ordinary config directory.
SENSITIVE_PATHS = (
    "/etc/shadow",
    "/etc/ssh",
    "/root/.ssh",
    "/home/*/.ssh",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/var/lib/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
)
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def normal_path(path: str) -> str:
    """An absolute path with `//`, `.`, `..` and trailing slashes resolved (no symlinks)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def exposes(source: str, pattern: str) -> bool:
    """Mounting SOURCE hands over PATTERN: SOURCE is PATTERN, below it, or one of its parents."""
    have, want = _segments(normal_path(source)), _segments(pattern)
    return all(fnmatch.fnmatchcase(a, b) for a, b in zip(have, want, strict=False))


def bind_sources_in(service, paths) -> list[str]:
    """The service's bind-mount sources (normalised) that expose one of PATHS, sorted."""
    sources = {normal_path(m.source) for m in service.mounts if m.type == "bind"}
    return sorted(source for source in sources if any(exposes(source, p) for p in paths))
