"""Small pure helpers the rules share."""

from __future__ import annotations

import re

from clusters.envscan import SECRET_NAME, secret_like_name  # noqa: F401 - one definition
from clusters.snapshot import Node, Service

MIB = 1024**2
GIB = 1024**3
JOB_MODES = {"replicated-job", "global-job"}
DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z0-9_.\-/]+)\s*(==|!=)\s*(.*?)\s*$")


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
    """(key, operator, value) of a placement constraint, or None if it cannot be read."""
    match = _CONSTRAINT.match(text)
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3)


def node_attribute(node: Node, key: str) -> str | None:
    """The value a placement constraint KEY reads on NODE (None when the node lacks it)."""
    if key == "node.role":
        return node.role
    if key == "node.hostname":
        return node.hostname
    if key == "node.id":
        return node.id
    if key == "node.platform.os":
        return node.os
    if key == "node.platform.arch":
        return node.arch
    if key.startswith("node.labels."):
        return node.labels.get(key.removeprefix("node.labels."))
    if key.startswith("engine.labels."):
        return node.engine_labels.get(key.removeprefix("engine.labels."))
    return None


def constraint_matches(node: Node, constraint: str) -> bool:
    parsed = parse_constraint(constraint)
    if parsed is None:
        return False
    key, operator, value = parsed
    actual = node_attribute(node, key)
    if operator == "==":
        return actual is not None and actual.lower() == value.lower()
    return actual is None or actual.lower() != value.lower()


def node_label_constraints(service: Service) -> list[tuple[str, str]]:
    """(label, value) pairs of the service's ``node.labels.X == value`` constraints."""
    pairs = []
    for constraint in service.constraints:
        parsed = parse_constraint(constraint)
        if parsed and parsed[0].startswith("node.labels.") and parsed[1] == "==":
            pairs.append((parsed[0].removeprefix("node.labels."), parsed[2]))
    return pairs


SENSITIVE_PATHS = {
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/var/lib/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
}


def normal_path(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part)


def bind_sources_in(service, paths) -> list[str]:
    """The service's bind-mount sources (normalised) that are among PATHS, sorted."""
    sources = (normal_path(m.source) for m in service.mounts if m.type == "bind")
    return sorted({source for source in sources if source in paths})
