"""Small pure helpers the rules share."""

from __future__ import annotations

import fnmatch

from clusters.envscan import SECRET_NAME, secret_like_name  # noqa: F401 - one definition
from clusters.placement import (  # noqa: F401 - the rules' one definition of placement
    GIB,
    JOB_MODES,
    MIB,
    constraint_matches,
    human_bytes,
    is_job,
    node_attribute,
    node_label_constraints,
    parse_constraint,
    placeable_nodes,
    single_node_pin,
)

DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}


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
