"""The Engine API client: connect to a Swarm manager, fetch one poll's raw JSON.

Every failure leaves as PollFailed with a kind and a message a person can act on. Messages
name the endpoint (without credentials), never key material or file contents.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import paramiko
import requests
from docker.constants import DEFAULT_DOCKER_API_VERSION
from docker.errors import APIError, DockerException, TLSParameterError

from clusters import sshconn
from clusters.normalize import EVENT_BUFFER, parse_time

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# Image inspections per poll: only distinct references, at most this many and for at most this
# long (a huge swarm's poll must not wait on hundreds of inspections); the rest are unknown.
IMAGE_INSPECT_MAX = 100
IMAGE_INSPECT_BUDGET_S = 5.0
SCHEMES = ("unix", "tcp", "ssh")


class PollFailed(Exception):
    """A poll could not be done; `kind` is one of the KINDS, `message` is for people."""

    KINDS = (
        "invalid_endpoint",
        "socket_missing",
        "unreachable",
        "refused",
        "timeout",
        "tls",
        "not_manager",
        "api_error",
        "malformed",
        "credentials",
        "auth",
        "host_key",
        "remote_docker",
        "database",  # Watchkeeper's own database failed mid-poll (dashboard.pipeline)
    )

    def __init__(self, kind: str, message: str) -> None:
        # Messages may quote the engine (an API error's text, a node state): no control
        # character reaches a terminal, a log line or the database (which refuses NUL).
        message = "".join(c if c.isprintable() else "\ufffd" for c in message)
        super().__init__(message)
        self.kind = kind
        self.message = message


def display_url(url: str) -> str:
    """The endpoint as shown to people: no password, no query string."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}"


def validate_url(url: str) -> str | None:
    """Why URL is not a usable endpoint, or None."""
    # urlsplit drops tabs and newlines silently: a URL carrying any control character
    # (issue 19 item 6: unix:// and ssh:// were stored with a hidden newline) is refused.
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in url):
        return "the URL must not contain control characters (newline, tab, ...)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in SCHEMES:
        return "the URL must start with unix://, tcp:// or ssh://"
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            return "a unix URL is unix:///absolute/path/to/docker.sock"
        return None
    if not parts.hostname:
        return f"the URL {display_url(url)} has no host"
    if parts.password:
        return "do not put a password in the URL"
    if parts.scheme == "tcp" and port is None:
        return "a tcp URL needs a port, e.g. tcp://manager.example.net:2376"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "the URL must not have a path, query or fragment"
    return None


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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__


@contextlib.contextmanager
def _tls_files(credentials: dict[str, str]) -> Iterator[dict[str, str]]:
    """Write decrypted PEMs to 0600 files in a private directory, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="wk-tls-") as tmp:
        os.chmod(tmp, 0o700)
        paths = {}
        for name in ("ca", "cert", "key"):
            if credentials.get(name):
                path = Path(tmp) / f"{name}.pem"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(credentials[name])
                paths[name] = str(path)
        yield paths


@contextlib.contextmanager
def connect(
    *,
    url: str,
    credentials: dict[str, str] | None = None,
    timeout: float = READ_TIMEOUT,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Iterator[docker.DockerClient]:
    """A DockerClient on URL (API version negotiated); failures raise PollFailed."""
    problem = validate_url(url)
    if problem:
        raise PollFailed("invalid_endpoint", f"Invalid endpoint: {problem}.")
    parts = urlsplit(url)
    if parts.scheme == "unix" and not os.path.exists(parts.path):
        raise PollFailed(
            "socket_missing",
            f"The socket {parts.path} does not exist: is the Docker engine running there "
            "and the path right?",
        )
    credentials = credentials or {}
    with _tls_files(credentials) as files:
        kwargs: dict[str, Any] = {"base_url": url, "version": "auto", "timeout": timeout}
        if parts.scheme == "tcp" and files:
            client_cert = (files["cert"], files["key"]) if "cert" in files else None
            kwargs["tls"] = docker.tls.TLSConfig(
                client_cert=client_cert, ca_cert=files.get("ca"), verify=files.get("ca") or True
            )
        if parts.scheme == "ssh":
            # The shell-out adapter connects lazily: nothing runs before _open replaces it.
            kwargs["use_ssh_client"] = True
            if not credentials.get("ssh_key") or not credentials.get("ssh_known_hosts"):
                raise PollFailed(
                    "credentials",
                    f"No SSH key or known host key is stored for {display_url(url)}: add the "
                    "cluster again with --ssh-key and --ssh-known-hosts.",
                )
        client = None
        try:
            client = _open(kwargs, connect_timeout, timeout, url, credentials)
            yield client
        except PollFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a PollFailed, the cause is kept
            raise describe(exc, url, timeout) from exc
        finally:
            if client is not None:
                client.close()


def _open(
    kwargs: dict, connect_timeout: float, timeout: float, url: str, credentials: dict[str, str]
) -> docker.DockerClient:
    """Create the client, negotiate the version with explicit connect/read timeouts."""
    # Build without a network call, set the timeouts, then negotiate (what version="auto" does).
    client = docker.DockerClient(**dict(kwargs, version=DEFAULT_DOCKER_API_VERSION))
    client.api.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the cluster's CA
    scheme = urlsplit(url).scheme
    if scheme == "tcp":
        client.api.timeout = (connect_timeout, timeout)
    if scheme == "ssh":
        _use_pinned_ssh(client, url, credentials, connect_timeout, timeout)
    client.api._version = client.api._retrieve_server_version()
    return client


def _use_pinned_ssh(
    client: docker.DockerClient,
    url: str,
    credentials: dict[str, str],
    connect_timeout: float,
    timeout: float,
) -> None:
    """Swap the SDK's SSH adapter for one using only the stored key and known hosts."""
    api = client.api
    try:
        adapter = sshconn.PinnedSSHAdapter(
            url,
            key=credentials["ssh_key"],
            known_hosts=credentials["ssh_known_hosts"],
            connect_timeout=connect_timeout,
            timeout=timeout,
            max_pool_size=api._custom_adapter.max_pool_size,
        )
    except sshconn.SSHMaterialError as exc:
        client.close()
        raise PollFailed(
            "credentials", f"The stored SSH material for {display_url(url)} {exc}."
        ) from None
    except BaseException:
        client.close()
        raise
    api._custom_adapter.close()
    api._custom_adapter = adapter
    api.mount("http+docker://ssh", adapter)


def _describe_ssh(chain: list[BaseException], where: str, user: str) -> PollFailed | None:
    """Map paramiko's failures (and a silent remote `docker system dial-stdio`)."""
    for e in chain:
        if isinstance(e, paramiko.BadHostKeyException):
            return PollFailed(
                "host_key",
                f"The SSH host key of {where} does not match the stored known_hosts (the host "
                "was reinstalled, or someone is in between): check it, then add the cluster "
                "again with the new key.",
            )
        if isinstance(e, paramiko.SSHException) and "not found in known_hosts" in str(e):
            return PollFailed(
                "host_key",
                f"The SSH host key of {where} is not in the stored known_hosts: refusing to "
                "connect to an unknown host.",
            )
        if isinstance(e, paramiko.AuthenticationException):
            return PollFailed(
                "auth",
                f"SSH authentication as {user} to {where} failed: the server refused the stored "
                "key (is its public key in that user's authorized_keys?).",
            )
        if isinstance(e, paramiko.ChannelException):
            return PollFailed(
                "remote_docker",
                f"SSH login to {where} works, but the server refused a session channel "
                f"({e.text or 'no reason given'}).",
            )
        if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
            causes = list(e.errors.values())
            if causes and all(isinstance(c, ConnectionRefusedError) for c in causes):
                return PollFailed(
                    "refused", f"Connection refused by {where}: does sshd listen there?"
                )
            return PollFailed("unreachable", f"{where} cannot be reached over SSH.")
    for e in chain:
        if isinstance(e, http.client.RemoteDisconnected | ConnectionAbortedError) or (
            isinstance(e, requests.exceptions.ConnectionError) and "aborted" in str(e).lower()
        ):
            return PollFailed(
                "remote_docker",
                f"SSH to {where} works, but `docker system dial-stdio` gave no Engine API there: "
                f"is the docker CLI installed, the engine running, and may {user} use it?",
            )
    return None


def describe(exc: BaseException, url: str, timeout: float) -> PollFailed:
    """Map an exception from the SDK, requests, ssl, paramiko or the OS to a PollFailed."""
    where = display_url(url)
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
        args = getattr(chain[-1], "args", ())
        for arg in args:
            if isinstance(arg, BaseException) and arg not in chain:
                chain.append(arg)
    text = " ".join(str(e) for e in chain)
    lowered = text.lower()

    if any(isinstance(e, PollFailed) for e in chain):
        return next(e for e in chain if isinstance(e, PollFailed))
    parts = urlsplit(url)
    if parts.scheme == "ssh":
        ssh_failure = _describe_ssh(chain, where, parts.username or "the default user")
        if ssh_failure is not None:
            return ssh_failure
    if any(isinstance(e, ssl.SSLError | requests.exceptions.SSLError) for e in chain) or (
        "certificate" in lowered and "verify" in lowered
    ):
        if "certificate verify failed" in lowered or "certificate_verify_failed" in lowered:
            reason = "the server's certificate is not signed by the configured CA"
            if "hostname" in lowered or "ip address mismatch" in lowered:
                reason = "the server's certificate does not match its address"
            elif "expired" in lowered:
                reason = "the server's certificate has expired"
        elif "unknown ca" in lowered or "bad certificate" in lowered:
            reason = "the server refused our client certificate"
        else:
            reason = "the TLS handshake failed"
        return PollFailed("tls", f"TLS verification failed for {where}: {reason}.")
    if any(isinstance(e, TLSParameterError) for e in chain):
        return PollFailed("tls", f"The TLS material for {where} is unusable.")
    if any(
        isinstance(e, requests.exceptions.Timeout | socket.timeout | TimeoutError) for e in chain
    ) or ("timed out" in lowered):
        return PollFailed("timeout", f"{where} did not answer within {timeout:.0f} s.")
    if "connection refused" in lowered or any(isinstance(e, ConnectionRefusedError) for e in chain):
        return PollFailed(
            "refused",
            f"Connection refused by {where}: is the Docker engine running and listening there?",
        )
    if any(isinstance(e, FileNotFoundError) for e in chain) or "no such file" in lowered:
        return PollFailed("socket_missing", f"Nothing listens at {where} (no such socket).")
    if "permission denied" in lowered:
        return PollFailed("unreachable", f"Permission denied when connecting to {where}.")
    if any(isinstance(e, APIError) for e in chain):
        api_error = next(e for e in chain if isinstance(e, APIError))
        status = api_error.status_code or "?"
        return PollFailed(
            "api_error",
            f"The Docker API at {where} answered with an error ({status}): "
            f"{api_error.explanation or api_error}",
        )
    if any(isinstance(e, json.JSONDecodeError | ValueError | KeyError) for e in chain):
        return PollFailed("malformed", f"{where} sent a response that is not Engine API JSON.")
    kind_name = type(exc).__module__.split(".")[0]
    if kind_name == "paramiko" or "ssh" in lowered:
        return PollFailed("unreachable", f"The SSH connection to {where} failed.")
    if any(isinstance(e, requests.exceptions.ConnectionError | OSError) for e in chain):
        return PollFailed("unreachable", f"{where} cannot be reached (network error).")
    if isinstance(exc, DockerException):
        return PollFailed("unreachable", f"{where} cannot be used: {type(exc).__name__}.")
    return PollFailed("api_error", f"Polling {where} failed unexpectedly ({type(exc).__name__}).")


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
    refs = []
    for item in services:
        spec = (item.get("Spec") or {}) if isinstance(item, dict) else {}
        image = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image")
        if isinstance(image, str) and image and image not in refs:
            refs.append(image)
    return refs


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
