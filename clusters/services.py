"""Writes of the clusters app: registering clusters, claiming and running polls, persisting."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import ipaddress
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from clusters import client, normalize, sshconn
from clusters.models import (
    POLL_CLAIM_TIMEOUT,
    Cluster,
    Node,
    NodeTransition,
    PollRun,
    PollSnapshot,
    Recipient,
    RunningTask,
    Service,
)
from clusters.snapshot import Snapshot
from watchkeeper import crypto

log = logging.getLogger(__name__)

DOWN_STATES = ("down", "unknown", "disconnected")
PEM_MARKERS = {
    "ca": "-----BEGIN CERTIFICATE-----",
    "cert": "-----BEGIN CERTIFICATE-----",
    "key": "PRIVATE KEY-----",
}


class ClusterInputError(ValueError):
    """Bad input for a cluster command or the settings page; the message says what to fix.

    ``field`` names the input at fault (the settings form's field name) when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# How messages name the inputs: the command line's options, or the settings page's fields.
CLI_NAMES = {
    "url_problem": "--url: {}.",
    "environment": "--environment",
    "tls_ca": "--tls-ca",
    "tls_cert": "--tls-cert",
    "tls_key": "--tls-key",
    "tls_any": "TLS files",
    "ssh_key": "--ssh-key",
    "ssh_known_hosts": "--ssh-known-hosts",
    "ssh_accept_new_host_key": "--ssh-accept-new-host-key",
    "ssh_any": "SSH options",
    "recipients": "--notify",
}
FORM_NAMES = {
    "url_problem": "{}.",
    "environment": "the environment",
    "tls_ca": "the CA certificate",
    "tls_cert": "the client certificate",
    "tls_key": "the client key",
    "tls_any": "TLS files",
    "ssh_key": "the SSH private key",
    "ssh_known_hosts": "known_hosts",
    "ssh_accept_new_host_key": '"accept the host key it shows now"',
    "ssh_any": "SSH keys and host keys",
    "recipients": "recipients",
}
TLS_KINDS = ("ca", "cert", "key")
RESERVED_NAMES = ("new",)  # /clusters/new/ is the add page
SETTINGS_FIELDS = (
    "name", "environment", "url", "credentials_encrypted", "poll_interval", "enabled",
    "drain_assist", "dns_server", "ingress_addresses", "updated_at",
)  # fmt: skip


# --- registering ------------------------------------------------------------------------


def _read_text(path: str | Path, option: str) -> str:
    """The text of the file given to --OPTION; ClusterInputError if it cannot be read."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterInputError(
            f"--{option}: cannot read {path} ({getattr(exc, 'strerror', None) or 'not text'})."
        ) from None


def pem_problem(kind: str, text: str) -> str | None:
    """Why TEXT cannot serve as the TLS KIND (ca, cert, key) of a poll, or None: not PEM, a
    damaged certificate, a key behind a passphrase (OpenSSL would ask for it on every poll)."""
    if PEM_MARKERS[kind] not in text:
        return "is not PEM"
    try:
        if kind == "key":
            serialization.load_pem_private_key(text.encode(), password=None)
        else:
            x509.load_pem_x509_certificates(text.encode())
    except TypeError:
        return "is encrypted: give the key without a passphrase (it is stored encrypted)"
    except (ValueError, UnsupportedAlgorithm):
        return f"is not a readable PEM {'private key' if kind == 'key' else 'certificate'}"
    return None


def read_pem(path: str | Path, kind: str) -> str:
    """Read a PEM file for --tls-KIND; raise ClusterInputError if unreadable, not PEM, or
    not something a poll can use (see pem_problem)."""
    text = _read_text(path, f"tls-{kind}")
    if PEM_MARKERS[kind] not in text:
        what = "a PEM private key" if kind == "key" else "a PEM certificate"
        raise ClusterInputError(f"--tls-{kind}: {path} is not {what}.")
    problem = pem_problem(kind, text)
    if problem:
        raise ClusterInputError(f"--tls-{kind}: {path} {problem}.")
    return text


def read_ssh_file(path: str | Path, option: str) -> str:
    """Read the file given to --ssh-key or --ssh-known-hosts, checked; never echo its text."""
    text = _read_text(path, option)
    try:
        if option == "ssh-key":
            sshconn.load_private_key(text)
        else:
            sshconn.load_known_hosts(text)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"--{option}: {path} {exc}.") from None
    return text


@sensitive_variables()
def _ssh_credentials(
    url: str,
    key: str,
    known_hosts: str,
    accept_new_host_key: bool,
    names: dict[str, str] = CLI_NAMES,
) -> dict[str, str]:
    """The stored SSH credentials: the key, and the known_hosts given or fetched now."""
    n = names
    if not key:
        raise ClusterInputError(
            f"an ssh:// URL needs {n['ssh_key']} (the private key to log in with).", "ssh_key"
        )
    if known_hosts and accept_new_host_key:
        raise ClusterInputError(
            f"give {n['ssh_known_hosts']} or {n['ssh_accept_new_host_key']}, not both.",
            "ssh_known_hosts",
        )
    if not known_hosts and not accept_new_host_key:
        raise ClusterInputError(
            f"an ssh:// URL needs {n['ssh_known_hosts']} (the host's key, e.g. from "
            f"`ssh-keyscan HOST`), or {n['ssh_accept_new_host_key']} to trust the key it "
            "shows now.",
            "ssh_known_hosts",
        )
    try:
        sshconn.load_private_key(key)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"{n['ssh_key']} {exc}.", "ssh_key") from None
    if accept_new_host_key:
        try:
            known_hosts = sshconn.scan_host_key(url, client.CONNECT_TIMEOUT)
        except (OSError, EOFError, sshconn.paramiko.SSHException) as exc:
            raise ClusterInputError(
                f"{n['ssh_accept_new_host_key']}: cannot fetch the host key of "
                f"{client.display_url(url)} ({type(exc).__name__}).",
                "ssh_accept_new_host_key",
            ) from None
    try:
        sshconn.load_known_hosts(known_hosts, url)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"{n['ssh_known_hosts']} {exc}.", "ssh_known_hosts") from None
    return {"ssh_key": key, "ssh_known_hosts": known_hosts}


@dataclass(frozen=True)
class Endpoint:
    """A checked URL and what to connect with: the new material over the stored one."""

    url: str
    scheme: str
    tls: dict[str, str]
    ssh_key: str
    ssh_known_hosts: str
    ssh_accept_new_host_key: bool
    names: dict[str, str]

    def __repr__(self) -> str:  # never show key material (tracebacks, logs)
        return f"Endpoint({client.display_url(self.url)!r})"

    def credentials(self) -> dict[str, str] | None:
        """The material to store and connect with; SSH host keys may be fetched now."""
        if self.scheme == "tcp":
            return dict(self.tls)
        if self.scheme == "ssh":
            return _ssh_credentials(
                self.url,
                self.ssh_key,
                self.ssh_known_hosts,
                self.ssh_accept_new_host_key,
                self.names,
            )
        return None


@sensitive_variables()
def _endpoint(
    *,
    url: str,
    tls: dict[str, str] | None,
    ssh_key: str,
    ssh_known_hosts: str,
    ssh_accept_new_host_key: bool,
    stored: dict[str, str],
    names: dict[str, str],
) -> Endpoint:
    """Check URL and the credentials given for it (files given now, else the STORED ones).

    Material for another scheme than the URL's is refused when given now and dropped when
    stored (changing the URL from tcp:// to unix:// forgets the TLS files).
    """
    n = names
    problem = client.validate_url(url)
    if problem:
        raise ClusterInputError(n["url_problem"].format(problem), "url")
    scheme = url.split("://", 1)[0]
    if scheme != "ssh" and (ssh_key or ssh_known_hosts or ssh_accept_new_host_key):
        raise ClusterInputError(f"{n['ssh_any']} only go with an ssh:// URL.", "ssh_key")
    given = {k: v for k, v in (tls or {}).items() if v}
    if given and scheme != "tcp":
        raise ClusterInputError(f"{n['tls_any']} only go with a tcp:// URL.", "tls_ca")
    merged = {}
    if scheme == "tcp":
        merged = {k: stored[k] for k in TLS_KINDS if stored.get(k)} | given
        missing = [k for k in TLS_KINDS if k not in merged]
        if missing:
            raise ClusterInputError(
                f"a tcp:// URL needs {n['tls_ca']}, {n['tls_cert']} and {n['tls_key']}.",
                f"tls_{missing[0]}",
            )
    for kind, text in given.items():
        problem = pem_problem(kind, text)
        if problem:
            raise ClusterInputError(f"{n['tls_' + kind]} {problem}.", f"tls_{kind}")
    if scheme == "ssh":
        ssh_key = ssh_key or stored.get("ssh_key", "")
        if not ssh_known_hosts and not ssh_accept_new_host_key:
            ssh_known_hosts = stored.get("ssh_known_hosts", "")
    return Endpoint(
        url=url,
        scheme=scheme,
        tls=merged,
        ssh_key=ssh_key,
        ssh_known_hosts=ssh_known_hosts,
        ssh_accept_new_host_key=ssh_accept_new_host_key,
        names=names,
    )


def _emails(addresses: Iterable[str], names: dict[str, str]) -> list[str]:
    emails = list(dict.fromkeys(addresses))
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            raise ClusterInputError(
                f"{names['recipients']}: {email!r} is not an email address.", "recipients"
            ) from None
    return emails


def _check_addresses(*, dns_server: str, ingress_addresses: str) -> None:
    """The DNS server is an IP address (optionally :port); ingress addresses are IPs."""
    server = dns_server.strip()
    if server:
        host, port = server, "53"
        if server.startswith("["):
            host, _, rest = server[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else "53"
        elif server.count(":") == 1:
            host, _, port = server.partition(":")
        try:
            ipaddress.ip_address(host)
            valid_port = port.isdigit() and 0 < int(port) < 65536
        except ValueError:
            valid_port = False
        if not valid_port:
            raise ClusterInputError(
                "the DNS server is an IP address with an optional port, e.g. 10.0.0.53 or "
                "10.0.0.53:5353.",
                "dns_server",
            )
    for part in ingress_addresses.replace(",", " ").split():
        try:
            ipaddress.ip_address(part)
        except ValueError:
            raise ClusterInputError(
                f"ingress addresses are IP addresses separated by commas or spaces; "
                f"{part!r} is not one.",
                "ingress_addresses",
            ) from None


def _full_clean(cluster: Cluster) -> None:
    try:
        cluster.full_clean(validate_unique=False)
    except ValidationError as exc:
        errors = exc.message_dict
        messages = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        field = next(iter(errors)) if len(errors) == 1 else None
        raise ClusterInputError(messages, field if field != NON_FIELD_ERRORS else None) from None


def _name_free(name: str, *, exclude_pk: int | None = None, lock: bool = False) -> None:
    if name.lower() in RESERVED_NAMES:
        raise ClusterInputError(f"{name!r} is reserved; choose another name.", "name")
    clusters = Cluster.objects.filter(name=name).exclude(pk=exclude_pk)
    if lock:
        clusters = clusters.select_for_update()
    if clusters.exists():
        raise ClusterInputError(f"a cluster named {name!r} already exists.", "name")


@contextlib.contextmanager
def _name_race(name: str, *, exclude_pk: int | None = None) -> Iterator[None]:
    """Word the unique-name violation of a cluster saved with NAME by another request between
    _name_free and our insert (a missing row cannot be locked) as the duplicate it is."""
    try:
        yield
    except IntegrityError:
        if Cluster.objects.filter(name=name).exclude(pk=exclude_pk).exists():
            raise ClusterInputError(f"a cluster named {name!r} already exists.", "name") from None
        raise


def _stored_credentials(cluster: Cluster | None) -> dict[str, str]:
    """The stored material of CLUSTER ({} when none, or when it cannot be decrypted)."""
    if cluster is None:
        return {}
    try:
        return cluster_credentials(cluster) or {}
    except crypto.SecretUnreadable:
        log.warning("stored credentials of cluster %s cannot be decrypted", cluster.pk)
        return {}


def _recipients_set(*, cluster: Cluster, emails: list[str], users: Iterable) -> None:
    """Make CLUSTER's recipients exactly EMAILS and USERS."""
    users = list(users)
    current = Recipient.objects.filter(cluster=cluster)
    current.filter(user__isnull=True).exclude(email__in=emails).delete()
    current.filter(user__isnull=False).exclude(user__in=users).delete()
    Recipient.objects.bulk_create(
        [Recipient(cluster=cluster, email=e) for e in emails]
        + [Recipient(cluster=cluster, user=u) for u in users],
        ignore_conflicts=True,
    )


def _policy_save(*, cluster: Cluster, policy: dict | None, by) -> None:
    """Hand POLICY (None: unchanged) to the readiness app, which validates it."""
    if policy is None:
        return
    from readiness import services as readiness_services

    try:
        readiness_services.policy_update(cluster=cluster, data=policy, by=by, now=timezone.now())
    except ValidationError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise ClusterInputError(f"the readiness policy is invalid: {detail}.", "policy") from None


def _settings_checked(
    *,
    name: str,
    environment: str,
    notify: Iterable[str],
    dns_server: str,
    ingress_addresses: str,
    names: dict[str, str],
    exclude_pk: int | None = None,
) -> list[str]:
    """Check the settings cluster_add and cluster_update share; returns the recipient
    addresses. Raises ClusterInputError on the first bad one."""
    if environment not in Cluster.Environment.values:
        raise ClusterInputError(
            f"{names['environment']} must be one of {', '.join(Cluster.Environment.values)}.",
            "environment",
        )
    emails = _emails(notify, names)
    _name_free(name, exclude_pk=exclude_pk)
    _check_addresses(dns_server=dns_server, ingress_addresses=ingress_addresses)
    return emails


@sensitive_variables()
def cluster_add(
    *,
    name: str,
    url: str,
    environment: str = Cluster.Environment.PRODUCTION,
    tls: dict[str, str] | None = None,
    notify: Iterable[str] = (),
    ssh_key: str = "",
    ssh_known_hosts: str = "",
    ssh_accept_new_host_key: bool = False,
    notify_users: Iterable = (),
    poll_interval: int | None = None,
    enabled: bool = True,
    drain_assist: bool = False,
    dns_server: str = "",
    ingress_addresses: str = "",
    policy: dict | None = None,
    by=None,
    names: dict[str, str] = CLI_NAMES,
) -> Cluster:
    """Register a cluster; TLS is {"ca", "cert", "key"} PEM text, SSH a private key and
    known_hosts text (or the host key fetched now, with ssh_accept_new_host_key). POLICY
    (readiness overrides) needs BY, an admin. Stores nothing on bad input."""
    endpoint = _endpoint(
        url=url,
        tls=tls,
        ssh_key=ssh_key,
        ssh_known_hosts=ssh_known_hosts,
        ssh_accept_new_host_key=ssh_accept_new_host_key,
        stored={},
        names=names,
    )
    emails = _settings_checked(
        name=name, environment=environment, notify=notify, dns_server=dns_server,
        ingress_addresses=ingress_addresses, names=names,
    )  # fmt: skip
    cluster = Cluster(
        name=name,
        url=url,
        environment=environment,
        enabled=enabled,
        drain_assist=drain_assist,
        dns_server=dns_server.strip(),
        ingress_addresses=ingress_addresses.strip(),
    )
    if poll_interval is not None:
        cluster.poll_interval = poll_interval
    credentials = endpoint.credentials()
    if credentials:
        cluster.set_credentials(json.dumps(credentials))
    _full_clean(cluster)
    with _name_race(name):
        with transaction.atomic():
            _name_free(name, lock=True)
            cluster.save()
            _recipients_set(cluster=cluster, emails=emails, users=notify_users)
            _policy_save(cluster=cluster, policy=policy, by=by)
    return cluster


@sensitive_variables()
def cluster_update(
    *,
    cluster: Cluster,
    name: str,
    url: str,
    environment: str,
    poll_interval: int,
    enabled: bool,
    drain_assist: bool,
    dns_server: str,
    ingress_addresses: str,
    notify: Iterable[str],
    notify_users: Iterable,
    tls: dict[str, str] | None = None,
    ssh_key: str = "",
    ssh_known_hosts: str = "",
    ssh_accept_new_host_key: bool = False,
    policy: dict | None = None,
    by=None,
    names: dict[str, str] = FORM_NAMES,
) -> Cluster:
    """Change CLUSTER's settings; TLS and SSH files not given keep the stored ones, the
    recipients become exactly NOTIFY and NOTIFY_USERS, POLICY (None: unchanged) needs BY, an
    admin. Returns the updated cluster (CLUSTER itself is left as it was); stores nothing
    on bad input."""
    stored = _stored_credentials(cluster)
    endpoint = _endpoint(
        url=url,
        tls=tls,
        ssh_key=ssh_key,
        ssh_known_hosts=ssh_known_hosts,
        ssh_accept_new_host_key=ssh_accept_new_host_key,
        stored=stored,
        names=names,
    )
    emails = _settings_checked(
        name=name, environment=environment, notify=notify, dns_server=dns_server,
        ingress_addresses=ingress_addresses, names=names, exclude_pk=cluster.pk,
    )  # fmt: skip
    updated = Cluster.objects.get(pk=cluster.pk)
    updated.name, updated.url, updated.environment = name, url, environment
    updated.poll_interval, updated.enabled, updated.drain_assist = (
        poll_interval,
        enabled,
        drain_assist,
    )
    updated.dns_server, updated.ingress_addresses = dns_server.strip(), ingress_addresses.strip()
    credentials = endpoint.credentials() or {}
    if credentials != stored:  # unchanged material keeps its ciphertext
        updated.set_credentials(json.dumps(credentials) if credentials else "")
    _full_clean(updated)
    with _name_race(name, exclude_pk=cluster.pk):
        with transaction.atomic():
            if not Cluster.objects.select_for_update().filter(pk=cluster.pk).exists():
                raise ClusterInputError(f"the cluster {cluster.name!r} was deleted meanwhile.")
            _name_free(name, exclude_pk=cluster.pk, lock=True)
            updated.save(update_fields=SETTINGS_FIELDS)
            _recipients_set(cluster=updated, emails=emails, users=notify_users)
            _policy_save(cluster=updated, policy=policy, by=by)
    return updated


@dataclass(frozen=True)
class ConnectionReport:
    """What a successful test connection saw."""

    url: str
    nodes: int
    api_version: str
    manager: str


@sensitive_variables()
def cluster_connection_test(
    *,
    url: str,
    tls: dict[str, str] | None = None,
    ssh_key: str = "",
    ssh_known_hosts: str = "",
    ssh_accept_new_host_key: bool = False,
    cluster: Cluster | None = None,
    names: dict[str, str] = FORM_NAMES,
) -> ConnectionReport:
    """Connect as a poll does with these settings (files not given: CLUSTER's stored ones),
    saving nothing. Raises ClusterInputError for bad input and client.PollFailed, with the
    poller's message, when the swarm cannot be used."""
    endpoint = _endpoint(
        url=url,
        tls=tls,
        ssh_key=ssh_key,
        ssh_known_hosts=ssh_known_hosts,
        ssh_accept_new_host_key=ssh_accept_new_host_key,
        stored=_stored_credentials(cluster),
        names=names,
    )
    probe = client.probe(url=url, credentials=endpoint.credentials())
    return ConnectionReport(
        url=client.display_url(url),
        nodes=probe.nodes,
        api_version=probe.api_version,
        manager=probe.manager,
    )


def cluster_delete(*, cluster: Cluster, confirm: str) -> None:
    """Delete CLUSTER and everything recorded about it; CONFIRM must repeat its name."""
    if confirm.strip() != cluster.name:
        raise ClusterInputError(
            f"type the cluster's name, {cluster.name}, to confirm the deletion.", "confirm"
        )
    cluster.delete()


def cluster_notify(*, cluster: Cluster, add: str | None = None, remove: str | None = None) -> bool:
    """Add or remove a notification address; returns whether anything changed."""
    if add:
        try:
            validate_email(add)
        except ValidationError:
            raise ClusterInputError(f"--add: {add!r} is not an email address.") from None
        _, created = Recipient.objects.get_or_create(cluster=cluster, email=add)
        return created
    if remove:
        deleted, _ = Recipient.objects.filter(cluster=cluster, email=remove).delete()
        if not deleted:
            raise ClusterInputError(f"{remove} is not a recipient of {cluster.name}.")
        return True
    raise ClusterInputError("give --add EMAIL or --remove EMAIL.")


def cluster_credentials(cluster: Cluster) -> dict[str, str] | None:
    """The decrypted TLS or SSH material of CLUSTER (only the poller calls this)."""
    text = cluster.get_credentials()
    return json.loads(text) if text else None


NODE_AVAILABILITIES = ("active", "pause", "drain")


def node_availability_set(*, cluster: Cluster, node_id: str, availability: str) -> None:
    """Set a node's availability through CLUSTER's Engine API (its TLS credentials decrypted
    for the call only). Raises client.PollFailed when the API cannot be reached or refuses;
    the next poll records the change."""
    if availability not in NODE_AVAILABILITIES:
        raise ValueError(f"unsupported availability {availability!r}")
    try:
        credentials = cluster_credentials(cluster)
    except crypto.SecretUnreadable as exc:
        raise client.PollFailed("credentials", str(exc)) from None
    client.set_node_availability(
        url=cluster.url, credentials=credentials, node_id=node_id, availability=availability
    )


def clusters_rotate_keys() -> int:
    """Re-encrypt every cluster's credentials with the first WATCHKEEPER_ENCRYPTION_KEYS key."""
    rotated = 0
    with transaction.atomic():
        for cluster in Cluster.objects.select_for_update().exclude(credentials_encrypted=""):
            cluster.credentials_encrypted = crypto.rotate(cluster.credentials_encrypted)
            cluster.save(update_fields=["credentials_encrypted", "updated_at"])
            rotated += 1
    return rotated


# --- scheduling ---------------------------------------------------------------------------


def _claimable(now: datetime) -> Q:
    return Q(poll_claimed_at__isnull=True) | Q(poll_claimed_at__lt=now - POLL_CLAIM_TIMEOUT)


def polls_due(*, now: datetime) -> list[int]:
    """Claim the next-poll slot of every due cluster (conditional UPDATE); return their ids."""
    due = (
        Cluster.objects.filter(enabled=True)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .filter(_claimable(now))
        .values_list("pk", "poll_interval", "next_poll_at")
    )
    claimed = []
    for pk, interval, next_poll_at in due:
        # Only the scheduler that moves next_poll_at from the value it read enqueues it.
        changed = Cluster.objects.filter(pk=pk, next_poll_at=next_poll_at).update(
            next_poll_at=now + timedelta(seconds=interval)
        )
        if changed == 1:
            claimed.append(pk)
    return claimed


def poll_claim(*, cluster_id: int, now: datetime) -> bool:
    """Claim CLUSTER for one poll; False when another poll holds a fresh claim."""
    return (
        Cluster.objects.filter(pk=cluster_id).filter(_claimable(now)).update(poll_claimed_at=now)
        == 1
    )


def poll_release(*, cluster_id: int, claimed_at: datetime, interval: int) -> None:
    """Give up our claim (if it is still ours) and schedule the next poll."""
    Cluster.objects.filter(pk=cluster_id, poll_claimed_at=claimed_at).update(
        poll_claimed_at=None, next_poll_at=claimed_at + timedelta(seconds=interval)
    )


class ClaimLost(Exception):
    """A poll outlived its claim (POLL_CLAIM_TIMEOUT) and another poll took the cluster."""


def _claim_held(*, cluster: Cluster, claimed_at: datetime | None) -> None:
    """In a transaction: lock CLUSTER's row if the poll claim made at CLAIMED_AT still holds,
    else raise ClaimLost. Only the poll holding the claim writes (None: no check)."""
    if claimed_at is None:
        return
    held = Cluster.objects.select_for_update().filter(pk=cluster.pk, poll_claimed_at=claimed_at)
    if not held.exists():
        raise ClaimLost


# --- persisting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    node_id: str
    from_state: str
    to_state: str
    at: datetime
    source: str


def node_transitions(*, previous: dict[str, str], snapshot: Snapshot) -> list[Transition]:
    """State changes of known nodes: from node events, then from the state seen across polls.

    Pure: PREVIOUS maps node id -> state at the last good poll.
    """
    by_node: dict[str, list] = {}
    for event in snapshot.events:
        if event.type == "node" and "state.new" in event.attributes:
            by_node.setdefault(event.actor_id, []).append(event)
    out = []
    for node in snapshot.nodes:
        current = previous.get(node.id)
        if current is None:
            continue  # first sight of the node: its joining events are no transitions
        for event in by_node.get(node.id, []):
            new = event.attributes["state.new"]
            old = event.attributes.get("state.old") or current or "unknown"
            if new != old:
                out.append(Transition(node.id, old, new, event.time, "event"))
            current = new
        if current != node.state:
            out.append(Transition(node.id, current, node.state, snapshot.taken_at, "poll"))
    return out


NODE_FIELDS = (
    "hostname", "role", "state", "availability", "cpus", "memory_bytes", "engine_version",
    "addr", "leader", "reachability", "labels", "removed_at",
)  # fmt: skip
SERVICE_FIELDS = (
    "name", "image", "mode", "replicas", "running_tasks", "desired_tasks", "constraints",
    "memory_limit", "memory_reservation", "cpu_limit", "cpu_reservation", "healthcheck",
    "labels", "removed_at",
)  # fmt: skip
TASK_FIELDS = ("node_id", "service_id", "slot", "state")


def _compared(fields: tuple) -> tuple:
    """The FIELDS a row's digest covers: all but removed_at (a returning row is rewritten)."""
    return tuple(name for name in fields if name != "removed_at")


def row_digest(values: dict, fields: tuple) -> str:
    """A stable hash of a row's FIELDS (JSON values with sorted keys)."""
    data = orjson.dumps(
        [values[name] for name in fields],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _service_row(service) -> tuple[dict, str]:
    """The service's stored fields and their digest, made once per Service object (a poll
    reuses the objects of services the API reports unchanged: see normalize.Reuse)."""
    kept = service.__dict__.get("_stored_row")
    if kept is None:
        compared = _compared(SERVICE_FIELDS)  # the snapshot's Service has each of them
        row = {name: getattr(service, name) for name in compared} | {"removed_at": None}
        kept = service.__dict__["_stored_row"] = (row, row_digest(row, compared))
    return kept


def _sync(
    model,
    *,
    cluster: Cluster,
    rows: dict[str, dict],
    fields: tuple,
    now: datetime,
    existing: dict | None = None,
    also: tuple = (),
    digests: dict[str, str] | None = None,
):
    """Upsert the ROWS (swarm id -> field values) that are new or changed; mark the missing.

    Four statements whatever the size: read, upsert, mark removed (or delete), touch.
    Models with a ``digest`` column are compared by the hash of their FIELDS (no JSON field is
    read back; DIGESTS, swarm id -> digest over _compared(FIELDS), when the caller has them),
    others field by field. Returns swarm id -> primary key for every row;
    EXISTING (a dict) receives the rows as they were: swarm id -> (pk, *ALSO) for models with a
    digest, (pk, *FIELDS) for the others.
    """
    if existing is None:
        existing = {}
    digested = hasattr(model, "digest")
    timestamps = hasattr(model, "last_seen_at")
    if digested:
        compared = _compared(fields)
        state = {}
        for swarm_id, pk, digest, removed_at, *rest in model.objects.filter(
            cluster=cluster
        ).values_list("swarm_id", "pk", "digest", "removed_at", *also):
            state[swarm_id] = (digest, removed_at)
            existing[swarm_id] = (pk, *rest)
        changed = []
        for swarm_id, values in rows.items():
            digest = digests[swarm_id] if digests is not None else row_digest(values, compared)
            if state.get(swarm_id) != (digest, None):
                changed.append(model(cluster=cluster, swarm_id=swarm_id, digest=digest, **values))
        update_fields = [*fields, "digest"]
    else:
        existing.update(
            (row[0], row[1:])
            for row in model.objects.filter(cluster=cluster).values_list("swarm_id", "pk", *fields)
        )
        changed = [
            model(cluster=cluster, swarm_id=swarm_id, **values)
            for swarm_id, values in rows.items()
            if existing.get(swarm_id, (None,))[1:] != tuple(values[f] for f in fields)
        ]
        update_fields = list(fields)
    pks = {swarm_id: values[0] for swarm_id, values in existing.items()}
    if timestamps:
        for obj in changed:
            obj.first_seen_at = obj.last_seen_at = now
        update_fields.append("last_seen_at")
    created = model.objects.bulk_create(
        changed,
        update_conflicts=True,
        unique_fields=["cluster", "swarm_id"],
        update_fields=update_fields,
    )
    pks.update({obj.swarm_id: obj.pk for obj in created})
    gone = [swarm_id for swarm_id in existing if swarm_id not in rows]
    if timestamps:
        model.objects.filter(cluster=cluster, swarm_id__in=gone, removed_at__isnull=True).update(
            removed_at=now
        )
        model.objects.filter(cluster=cluster, removed_at__isnull=True).update(last_seen_at=now)
    else:
        model.objects.filter(cluster=cluster, swarm_id__in=gone).delete()
    return pks


def poll_persist(
    *,
    cluster: Cluster,
    snapshot: Snapshot,
    started_at: datetime,
    duration_ms: int,
    events_until: datetime | None,
    claimed_at: datetime | None = None,
) -> tuple[PollRun, list[Transition]]:
    """Store one good poll in one transaction with bulk writes (statement count is constant).

    Only new or changed nodes, services and tasks are written; removed nodes and services
    are marked removed (history kept), tasks no longer running are deleted. With CLAIMED_AT,
    nothing is written unless that poll claim still holds (else ClaimLost).
    """
    now = snapshot.taken_at
    with transaction.atomic():
        _claim_held(cluster=cluster, claimed_at=claimed_at)
        known_nodes: dict[str, tuple] = {}
        node_pk = _sync(
            Node,
            cluster=cluster,
            now=now,
            fields=NODE_FIELDS,
            existing=known_nodes,
            also=("state", "removed_at"),
            rows={
                n.id: {
                    "hostname": n.hostname,
                    "role": n.role,
                    "state": n.state,
                    "availability": n.availability,
                    "cpus": n.cpus,
                    "memory_bytes": n.memory_bytes,
                    "engine_version": n.engine_version,
                    "addr": n.addr,
                    "leader": n.leader,
                    "reachability": n.reachability or "",
                    "labels": n.labels,
                    "removed_at": None,
                }  # fmt: skip
                for n in snapshot.nodes
            },
        )
        service_rows = [(s, _service_row(s)) for s in snapshot.services]
        service_pk = _sync(
            Service,
            cluster=cluster,
            now=now,
            fields=SERVICE_FIELDS,
            rows={s.id: row for s, (row, _) in service_rows},
            digests={s.id: digest for s, (_, digest) in service_rows},
        )
        _sync(
            RunningTask,
            cluster=cluster,
            now=now,
            fields=TASK_FIELDS,
            rows={
                t.id: {
                    "node_id": node_pk.get(t.node_id or ""),
                    "service_id": service_pk.get(t.service_id),
                    "slot": t.slot,
                    "state": t.state,
                }
                for t in snapshot.tasks
                if t.desired_state == "running"
            },
        )
        previous = {
            swarm_id: state
            for swarm_id, (_, state, removed_at) in known_nodes.items()
            if removed_at is None
        }  # node id -> state at the last good poll (nodes not marked removed)
        transitions = node_transitions(previous=previous, snapshot=snapshot)
        NodeTransition.objects.bulk_create(
            [
                NodeTransition(
                    cluster=cluster,
                    node_id=node_pk[t.node_id],
                    from_state=t.from_state,
                    to_state=t.to_state,
                    at=t.at,
                    source=t.source,
                )
                for t in transitions
            ],
            ignore_conflicts=True,
        )
        run = PollRun.objects.create(
            cluster=cluster,
            started_at=started_at,
            duration_ms=duration_ms,
            ok=True,
            nodes=len(snapshot.nodes),
            services=len(snapshot.services),
            tasks=len(snapshot.running_tasks()),
            events=len(snapshot.events),
            events_until=events_until,
            events_truncated=snapshot.events_truncated,
        )
        PollSnapshot.objects.create(
            poll_run=run,
            cluster=cluster,
            taken_at=snapshot.taken_at,
            data=PollSnapshot.compress(snapshot),
        )
        Cluster.objects.filter(pk=cluster.pk).update(
            last_poll_at=started_at, last_poll_ok=True, last_poll_error="", last_success_at=now
        )
    return run, transitions


def poll_failure_record(
    *,
    cluster: Cluster,
    started_at: datetime,
    duration_ms: int,
    failure: client.PollFailed,
    claimed_at: datetime | None = None,
) -> PollRun:
    """Record a failed poll; the last good snapshot and nodes stay as they were. With
    CLAIMED_AT, nothing is written unless that poll claim still holds (else ClaimLost)."""
    message = failure.message[:500]
    with transaction.atomic():
        _claim_held(cluster=cluster, claimed_at=claimed_at)
        run = PollRun.objects.create(
            cluster=cluster,
            started_at=started_at,
            duration_ms=duration_ms,
            ok=False,
            error_kind=failure.kind,
            error=message,
        )
        Cluster.objects.filter(pk=cluster.pk).update(
            last_poll_at=started_at, last_poll_ok=False, last_poll_error=message
        )
    return run


# --- a poll ---------------------------------------------------------------------------------


@dataclass
class PollOutcome:
    run: PollRun
    snapshot: Snapshot | None = None
    timings: dict[str, float] | None = None


Fetcher = Callable[..., client.RawPoll]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off for the block, then restore its previous state.

    A poll allocates some 300,000 containers (raw JSON, snapshot, checks) that all live until
    it ends: the collector would traverse them again and again (0.1-0.3 s a poll at 10,000
    tasks) and find next to nothing. Reference counting still frees everything as usual; the
    few cycles a poll leaves wait for the next collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cluster_poll(
    *, cluster: Cluster, now: datetime | None = None, fetch: Fetcher | None = None
) -> PollOutcome | None:
    """Claim, fetch, normalise, persist, score and notify; None if another poll holds it
    (or took it over while this one outlived its claim: then this one writes nothing).

    Failures of the cluster are recorded on the PollRun; nothing is raised for them.
    """
    started_at = now or timezone.now()
    if not poll_claim(cluster_id=cluster.pk, now=started_at):
        return None
    try:
        with gc_paused():
            return _poll_claimed(
                cluster=cluster, started_at=started_at, fetch=fetch or client.fetch
            )
    except ClaimLost:
        log.warning("a poll of cluster %s outlived its claim: another poll took over", cluster.pk)
        return None
    finally:
        poll_release(cluster_id=cluster.pk, claimed_at=started_at, interval=cluster.poll_interval)


# Per worker process: what the last poll of each cluster normalised (see normalize.Reuse).
# Any process may poll any cluster; a process that did not poll it last only builds more.
# Bounded by clusters and by objects: a cluster of 2,000 services and 10,000 tasks (12,000
# objects) keeps some 27 MiB (make bench), so a worker keeps at most about 230 MiB.
_REUSE: OrderedDict[int, normalize.Reuse] = OrderedDict()
REUSE_CLUSTERS = 32
REUSE_OBJECTS = 100_000  # services + tasks kept, all clusters together


def _reuse_for(cluster: Cluster) -> normalize.Reuse:
    """The cluster's Reuse, made the most recently used (see _reuse_trim)."""
    reuse = _REUSE.pop(cluster.pk, None) or normalize.Reuse()
    _REUSE[cluster.pk] = reuse
    _reuse_trim()
    return reuse


def _stored_swarm(cluster: Cluster):
    """The SwarmInfo of the cluster's last stored snapshot, or None."""
    from clusters import selectors

    last = selectors.latest_snapshot(cluster=cluster)
    return last.swarm if last is not None else None


def _reuse_trim() -> None:
    """Drop the least recently used beyond REUSE_CLUSTERS clusters or REUSE_OBJECTS objects;
    the most recent (the cluster being polled) always stays. Memory stays bounded whatever the
    size of the fleet; called before a poll and again once the poll knows its new size."""
    objects = clusters = 0
    for pk in reversed(list(_REUSE)):  # most recently used first
        objects += _REUSE[pk].size
        clusters += 1
        if clusters > 1 and (objects > REUSE_OBJECTS or clusters > REUSE_CLUSTERS):
            del _REUSE[pk]  # and, in the next rounds, every older one


def _poll_claimed(*, cluster: Cluster, started_at: datetime, fetch: Fetcher) -> PollOutcome:
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    last_ok = (
        PollRun.objects.filter(cluster=cluster, ok=True, events_until__isnull=False)
        .values_list("events_until", flat=True)
        .first()
    )
    try:
        credentials = cluster_credentials(cluster)
    except crypto.SecretUnreadable as exc:
        failure = client.PollFailed("credentials", str(exc))
        return PollOutcome(run=_failed(cluster, started_at, clock, failure))
    try:
        raw = fetch(
            url=cluster.url,
            credentials=credentials,
            events_since=last_ok,
            default_lookback_s=cluster.poll_interval,
        )
        timings["fetch"] = time.perf_counter() - clock
        mark = time.perf_counter()
        reuse = _reuse_for(cluster)
        if reuse.swarm is None:  # this process's first poll of it: carry the join tokens'
            reuse.swarm = _stored_swarm(cluster)  # first sightings on from the store
        snapshot = normalize.snapshot(raw.as_dict(), now=started_at, reuse=reuse)
        _reuse_trim()
        timings["normalize"] = time.perf_counter() - mark
    except client.PollFailed as failure:
        return PollOutcome(run=_failed(cluster, started_at, clock, failure))
    except normalize.MalformedResponse:
        failure = client.PollFailed(
            "malformed", f"{client.display_url(cluster.url)} sent data Watchkeeper cannot read."
        )
        log.warning("malformed response from cluster %s", cluster.pk, exc_info=True)
        return PollOutcome(run=_failed(cluster, started_at, clock, failure))
    mark = time.perf_counter()
    try:
        run, transitions = poll_persist(
            cluster=cluster,
            snapshot=snapshot,
            started_at=started_at,
            duration_ms=int((time.perf_counter() - clock) * 1000),
            events_until=raw.engine_time,
            claimed_at=started_at,
        )
    except (DataError, IntegrityError, ValueError, TypeError):
        # A value the columns refuse (too long, out of range, not a number): the transaction
        # rolled back, the poll is recorded as malformed and the traceback logged.
        failure = client.PollFailed(
            "malformed",
            f"{client.display_url(cluster.url)} sent data Watchkeeper cannot store (a value of "
            "an unexpected type or size).",
        )
        log.warning("cannot store the poll of cluster %s", cluster.pk, exc_info=True)
        return PollOutcome(run=_failed(cluster, started_at, clock, failure))
    timings["persist"] = time.perf_counter() - mark
    mark = time.perf_counter()
    _score(cluster=cluster, snapshot=snapshot, now=started_at)
    timings["score"] = time.perf_counter() - mark
    _notify_nodes_down(cluster=cluster, snapshot=snapshot, transitions=transitions, now=started_at)
    return PollOutcome(run=run, snapshot=snapshot, timings=timings)


def _failed(
    cluster: Cluster, started_at: datetime, clock: float, failure: client.PollFailed
) -> PollRun:
    duration_ms = int((time.perf_counter() - clock) * 1000)
    log.info("poll of cluster %s failed: %s", cluster.pk, failure.kind)
    return poll_failure_record(
        cluster=cluster,
        started_at=started_at,
        duration_ms=duration_ms,
        failure=failure,
        claimed_at=started_at,
    )


def _score(*, cluster: Cluster, snapshot: Snapshot, now: datetime) -> None:
    from readiness import services as readiness_services

    try:
        readiness_services.evaluation_run(cluster=cluster, snapshot=snapshot, now=now)
    except Exception:  # noqa: BLE001 - recorded; a scoring bug must not lose the poll
        log.exception("scoring cluster %s failed", cluster.pk)


def _notify_nodes_down(
    *, cluster: Cluster, snapshot: Snapshot, transitions: list[Transition], now: datetime
) -> None:
    """Hand "node down outside a maintenance window" to the notifications."""
    by_id = snapshot.node_by_id()
    down = [
        t
        for t in transitions
        if t.to_state in DOWN_STATES and by_id[t.node_id].state in DOWN_STATES
    ]
    if not down:
        return
    from maintenance import selectors as maintenance_selectors
    from maintenance import services as maintenance_services

    try:
        facts = maintenance_selectors.operations_facts(cluster=cluster, now=now)
        if facts is not None and facts.in_window_now:
            return
        for t in down:
            node = by_id[t.node_id]
            maintenance_services.notification_enqueue(
                cluster=cluster,
                kind="node_down",
                subject_key=f"{node.id}:{t.at.isoformat()}",
                title=f"Node {node.hostname} is {node.state}",
                body=(
                    f"Node {node.hostname} ({node.role}) of {cluster.name} went {t.to_state} "
                    f"at {t.at:%Y-%m-%d %H:%M:%S} UTC, outside a maintenance window."
                ),
                now=now,
            )
    except Exception:  # noqa: BLE001 - recorded; notifications must not lose the poll
        log.exception("node-down notification for cluster %s failed", cluster.pk)


def history_prune(*, now: datetime) -> dict[str, int]:
    """Thin old snapshots to one per day and drop old snapshot-less poll runs.

    The latest snapshot of each cluster always stays (it is what re-scoring reads).
    """
    from django.conf import settings
    from django.db.models import Max

    from watchkeeper.history import thin_per_cluster

    latest = set(
        PollSnapshot.objects.values("cluster_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    snapshots = thin_per_cluster(PollSnapshot, time_field="taken_at", now=now, keep=latest)
    runs, _ = PollRun.objects.filter(
        started_at__lt=now - timedelta(days=settings.WATCHKEEPER_POLL_RUN_DAYS),
        snapshot__isnull=True,
    ).delete()
    return {"snapshots": snapshots, "poll_runs": runs}
