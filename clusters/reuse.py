"""What one poll of a cluster normalised, kept for the next poll of the same cluster
(clusters.normalize.snapshot builds with it; clusters.polling keeps one per cluster). Pure
code, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusters.snapshot import Service, SwarmInfo, Task


@dataclass
class Reuse:
    """The services and tasks one poll normalised, for the next poll of the same cluster.

    A swarm object's Version.Index grows with every change the manager stores, so an object
    seen again with the same index (and UpdatedAt) is taken as it was instead of being built
    again; what the API computes per request (a service's ServiceStatus, the running count
    used when it is missing) is part of the key. Objects without a version are always built.
    The caller keeps one Reuse per cluster; snapshot() replaces its contents every time.
    """

    services: dict[str, tuple[Any, Service]] = field(default_factory=dict)
    tasks: dict[str, tuple[Any, Task]] = field(default_factory=dict)
    hits: int = 0
    swarm: SwarmInfo | None = None  # the last poll's: join tokens' first-seen moments

    @property
    def size(self) -> int:
        """How many objects it keeps."""
        return len(self.services) + len(self.tasks)


def version_index(raw: dict) -> Any:
    """The object's Version.Index, or None."""
    version = raw.get("Version")
    return version.get("Index") if isinstance(version, dict) else None


def build_all(raws: list, build, key_of, previous: dict, current: dict, reuse: Reuse) -> list:
    """BUILD every raw object, or take it from PREVIOUS when its key is unchanged."""
    built = []
    for item in raws:
        key = key_of(item)
        if key is None:
            built.append(build(item))
            continue
        ident = item["ID"]
        seen = previous.get(ident)
        if seen is not None and seen[0] == key:
            obj = seen[1]
            reuse.hits += 1
        else:
            obj = build(item)
        current[ident] = (key, obj)
        built.append(obj)
    return built
