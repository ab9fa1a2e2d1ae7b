"""Writes of the clusters app: registering clusters and their settings, credentials,
node availability, key rotation."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from audit import services as audit
from clusters import client
from clusters.endpoint import (
    CLI_NAMES,
    FORM_NAMES,
    ClusterInputError,
    endpoint_checked,
)
from clusters.models import (
    Cluster,
    Recipient,
)
from watchkeeper import crypto

log = logging.getLogger(__name__)

RESERVED_NAMES = ("new",)  # /clusters/new/ is the add page
SETTINGS_FIELDS = (
    "name", "environment", "url", "credentials_encrypted", "poll_interval", "enabled",
    "drain_assist", "dns_server", "ingress_addresses", "updated_at",
)  # fmt: skip
AUDIT_FIELDS = SETTINGS_FIELDS[:-1]  # credentials_encrypted is redacted (audit "secrets")


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
    on_saved: Callable[[Cluster], None] | None = None,
    names: dict[str, str] = CLI_NAMES,
) -> Cluster:
    """Register a cluster; TLS is {"ca", "cert", "key"} PEM text, SSH a private key and
    known_hosts text (or the host key fetched now, with ssh_accept_new_host_key). ON_SAVED
    runs in the same transaction once the cluster is saved (dashboard.registration saves the
    readiness policy there); an error it raises stores nothing. Stores nothing on bad input."""
    endpoint = endpoint_checked(
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
            if on_saved is not None:
                on_saved(cluster)
            audit.record(
                action="cluster.add",
                obj=cluster,
                after=audit.fields(cluster, AUDIT_FIELDS),
                secrets=["credentials_encrypted"],
            )
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
    on_saved: Callable[[Cluster], None] | None = None,
    names: dict[str, str] = FORM_NAMES,
) -> Cluster:
    """Change CLUSTER's settings; TLS and SSH files not given keep the stored ones, the
    recipients become exactly NOTIFY and NOTIFY_USERS, ON_SAVED runs in the transaction
    (see cluster_add). Returns the updated cluster (CLUSTER itself is left as it was); stores
    nothing on bad input."""
    stored = _stored_credentials(cluster)
    endpoint = endpoint_checked(
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
            if on_saved is not None:
                on_saved(updated)
            audit.record(
                action="cluster.update",
                obj=updated,
                before=audit.fields(cluster, AUDIT_FIELDS),
                after=audit.fields(updated, AUDIT_FIELDS),
                secrets=["credentials_encrypted"],
            )
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
    endpoint = endpoint_checked(
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
    with transaction.atomic():
        audit.record(
            action="cluster.delete",
            obj=cluster,
            before=audit.fields(cluster, AUDIT_FIELDS),
            secrets=["credentials_encrypted"],
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
    audit.record(
        action="node.availability",
        obj=f"{cluster.name} node {node_id}",
        object_type="node",
        after={"availability": availability},
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
