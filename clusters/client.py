"""The Engine API client: fetch one poll's raw JSON from a Swarm manager, probe it, set a
node's availability. Connecting, and what each failure is called, is clusters.connection.

Every failure leaves as PollFailed with a kind and a message a person can act on. Messages
name the endpoint (without credentials), never key material or file contents.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from docker.errors import APIError

from clusters import connection
from clusters.connection import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    PollFailed,
    connect,
    describe,
    display_url,
)
from clusters.normalize import EVENT_BUFFER, parse_time

# Image inspections per poll: only distinct references, at most this many and for at most this
# long (a huge swarm's poll must not wait on hundreds of inspections); the rest are unknown.
IMAGE_INSPECT_MAX = 100
IMAGE_INSPECT_BUDGET_S = 5.0


@dataclass
class RawPoll:
    """One poll's raw Engine API JSON (the input of clusters.normalize.snapshot)."""

    version: dict
    info: dict
    nodes: list = field(default_factory=list)
    services: list = field(default_factory=list)
    tasks_running: list = field(default_factory=list)
    tasks_shutdown: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    secrets: list = field(default_factory=list)
    configs: list = field(default_factory=list)
    events: list = field(default_factory=list)
    engine_time: datetime | None = None
    # GET /swarm without its join tokens (JoinTokenFingerprints instead: see swarm_without_tokens)
    swarm: dict = field(default_factory=dict)
    # image reference -> {"Config": {"Healthcheck": ...}} for the images services run
    images: dict = field(default_factory=dict)
    # No answer read whole held a NUL (an escaped \u0000 in its body, looked for as it was
    # read: clusters.connection): normalize.snapshot then searches only the events (a stream)
    # and the images (partly from the cache), not the whole poll.
    nul_free: bool = False

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__


def check_manager(info: dict, url: str) -> None:
    """Raise PollFailed unless INFO (GET /info) comes from an active Swarm manager."""
    where = display_url(url)
    swarm = info.get("Swarm")
    if not isinstance(swarm, dict):
        raise PollFailed("malformed", f"{where} sent /info without a Swarm section.")
    state = swarm.get("LocalNodeState") or "inactive"
    if state != "active":
        raise PollFailed(
            "not_manager",
            f"{where} is not part of a swarm (node state {state}): give a Swarm manager's "
            "endpoint.",
        )
    if not swarm.get("ControlAvailable"):
        raise PollFailed(
            "not_manager",
            f"{where} is a swarm worker, not a manager: give a manager's endpoint.",
        )


def token_fingerprint(token: str) -> str:
    """A short SHA-256 fingerprint of a join token: enough to see it change, useless to join."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


def swarm_without_tokens(raw: dict) -> dict:
    """GET /swarm as kept by a poll: the join tokens replaced by their fingerprints."""
    if not isinstance(raw, dict):
        return {}
    kept = {key: value for key, value in raw.items() if key != "JoinTokens"}
    tokens = raw.get("JoinTokens") or {}
    kept["JoinTokenFingerprints"] = {
        role: token_fingerprint(str(tokens.get(role) or "")) for role in ("Worker", "Manager")
    }
    return kept


# Image configs by digest-pinned reference (content-addressed: the same bytes on every poll of
# every cluster), bounded. Mutable references (a tag alone) are inspected on each poll.
_IMAGE_CACHE: OrderedDict[str, dict] = OrderedDict()
IMAGE_CACHE_SIZE = 2048


def _service_images(services: list) -> list[str]:
    """The distinct ContainerSpec.Image references of SERVICES, in first-seen order."""
    refs: dict[str, None] = {}  # a dict keeps the order and answers "seen?" at once
    for item in services:
        spec = (item.get("Spec") or {}) if isinstance(item, dict) else {}
        image = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image")
        if isinstance(image, str) and image:
            refs[image] = None
    return list(refs)


def _images(api, refs: list[str]) -> dict[str, dict]:
    """{ref: {"Config": {"Healthcheck": ...}}} for the references the manager can inspect.

    A reference it cannot (not pulled on the manager: 404; any other API error) is left out:
    the rules call its health check unknown. Bounded by IMAGE_INSPECT_MAX and the time budget.
    """
    found: dict[str, dict] = {}
    started = time.monotonic()
    inspected = 0
    for ref in refs:
        pinned = "@sha256:" in ref
        if pinned and ref in _IMAGE_CACHE:
            _IMAGE_CACHE.move_to_end(ref)
            found[ref] = _IMAGE_CACHE[ref]
            continue
        if inspected >= IMAGE_INSPECT_MAX or time.monotonic() - started > IMAGE_INSPECT_BUDGET_S:
            continue
        inspected += 1
        try:
            config = api.inspect_image(ref).get("Config") or {}
        except APIError:
            continue
        kept = {"Config": {"Healthcheck": config.get("Healthcheck")}}
        found[ref] = kept
        if pinned:
            _IMAGE_CACHE[ref] = kept
            while len(_IMAGE_CACHE) > IMAGE_CACHE_SIZE:
                _IMAGE_CACHE.popitem(last=False)
    return found


def _stamp(moment: datetime) -> str:
    """The engine's `seconds.nanoseconds` timestamp format (no gap, no overlap between polls)."""
    return f"{moment.timestamp():.6f}"


def _events(api, since: datetime, until: datetime) -> list[dict]:
    """All events in [since, until] (at most the engine's buffer), in order."""
    out = []
    stream = api.events(since=_stamp(since), until=_stamp(until), decode=True)
    try:
        for item in stream:
            out.append(item)
            if len(out) > EVENT_BUFFER * 4:
                break
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    return out


def fetch(
    *,
    url: str,
    credentials: dict[str, str] | None = None,
    events_since: datetime | None = None,
    default_lookback_s: int = 60,
    timeout: float = READ_TIMEOUT,
    failed_since: datetime | None = None,
) -> RawPoll:
    """Fetch everything one poll needs from the manager at URL; raise PollFailed on failure."""
    with _manager(url=url, credentials=credentials, timeout=timeout) as (api, version, info):
        engine_time = parse_time(info.get("SystemTime")) or datetime.now(tz=UTC)
        since = events_since or datetime.fromtimestamp(
            engine_time.timestamp() - default_lookback_s, tz=UTC
        )
        raw = RawPoll(version=version, info=info, engine_time=engine_time)
        try:
            raw.swarm = swarm_without_tokens(api.inspect_swarm())
        except APIError:  # a manager answers it; a proxy that forbids it leaves these unknown
            raw.swarm = {}
        raw.nodes = api.nodes()
        raw.services = api.services(status=True)
        if isinstance(raw.services, list):
            raw.images = _images(api, _service_images(raw.services))
        raw.tasks_running = api.tasks(filters={"desired-state": "running"})
        raw.tasks_shutdown = [
            t
            for t in api.tasks(filters={"desired-state": "shutdown"})
            if (t.get("Status") or {}).get("State") in ("failed", "rejected")
        ]
        raw.networks = api.networks()
        raw.secrets = api.secrets()
        raw.configs = api.configs()
        for config in raw.configs:
            (config.get("Spec") or {}).pop("Data", None)
        raw.events = _events(api, since, engine_time)
        raw.nul_free = not getattr(api, connection.NUL_SEEN, False)
        for key in ("nodes", "services", "tasks_running", "networks", "secrets", "configs"):
            if not isinstance(getattr(raw, key), list):
                raise PollFailed(
                    "malformed", f"{display_url(url)} sent a malformed /{key.split('_')[0]}."
                )
        return raw


@contextlib.contextmanager
def _manager(
    *, url: str, credentials: dict[str, str] | None, timeout: float
) -> Iterator[tuple[Any, dict, dict]]:
    """Connect to URL, check it is a swarm manager and give (api, /version, /info); any
    failure inside the block becomes the PollFailed that describe() words for it."""
    with connect(url=url, credentials=credentials, timeout=timeout) as client:
        api = client.api
        try:
            version = api.version()
            info = api.info()
            check_manager(info, url)
            yield api, version, info
        except PollFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a PollFailed, the cause is kept
            raise describe(exc, url, timeout) from exc


@dataclass(frozen=True)
class Probe:
    """What a test connection learns: enough for a person to recognise the swarm."""

    nodes: int
    api_version: str
    manager: str


def probe(
    *, url: str, credentials: dict[str, str] | None = None, timeout: float = CONNECT_TIMEOUT
) -> Probe:
    """Connect to URL as a poll does (same checks, same PollFailed messages), briefly."""
    with _manager(url=url, credentials=credentials, timeout=timeout) as (api, version, info):
        nodes = api.nodes()
        if not isinstance(nodes, list) or not isinstance(version, dict):
            raise PollFailed("malformed", f"{display_url(url)} sent a malformed /nodes.")
        return Probe(
            nodes=len(nodes),
            api_version=str(version.get("ApiVersion") or api.api_version),
            manager=str(info.get("Name") or "?"),
        )


def set_node_availability(
    *,
    url: str,
    credentials: dict[str, str] | None,
    node_id: str,
    availability: str,
    timeout: float = READ_TIMEOUT,
) -> None:
    """Set NODE_ID's availability through the manager at URL; raise PollFailed on failure."""
    with connect(url=url, credentials=credentials, timeout=timeout) as client:
        node = client.nodes.get(node_id)
        node.update(dict(node.attrs["Spec"], Availability=availability))
