"""Reaching a Swarm manager: endpoint URLs, TLS files, pinned SSH, and the PollFailed a
failure becomes (clusters.client asks the Engine API through it).

Every failure leaves as PollFailed with a kind and a message a person can act on. Messages
name the endpoint (without credentials), never key material or file contents.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import orjson
import paramiko
import requests
from docker.constants import DEFAULT_DOCKER_API_VERSION
from docker.errors import APIError, DockerException, TLSParameterError

from clusters import sshconn

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
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
    client.api._result = types.MethodType(_result, client.api)
    client.api._version = client.api._retrieve_server_version()
    return client


# Answers up to this size are decoded by orjson; larger ones the SDK's way. orjson reserves
# its worst case at once (some twelve times the body: 430 MiB for the 36 MB /tasks of 100,000
# tasks) where the json module builds the objects as it reads.
ORJSON_MAX_BYTES = 8 * 1024 * 1024
# Set on the APIClient once an answer's body held an escaped NUL (clusters.client.RawPoll).
NUL_SEEN = "watchkeeper_nul_seen"


def _result(api, response, json=False, binary=False):
    """docker-py's APIClient._result, with JSON decoded by orjson straight from the body's
    bytes (several times faster than the SDK's way: requests' ``json``, a str copy of the
    body, then the json module) up to ORJSON_MAX_BYTES. What orjson refuses (another
    encoding, a lone surrogate, an infinite number) takes the SDK's way; for the rest both
    give the same values (the Engine API's integers fit in 64 bits: Go's int64/uint64)."""
    if json and b"\\u0000" in response.content:  # a NUL in a string (see RawPoll.nul_free)
        setattr(api, NUL_SEEN, True)
    if json and len(response.content) <= ORJSON_MAX_BYTES:
        api._raise_for_status(response)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
    return type(api)._result(api, response, json=json, binary=binary)


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
