"""The API's request bodies. They check types and sizes only: every rule about the values is
the services' (the same ones the pages and the command line call), so nothing is checked twice.
"""

from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Schema

from clusters.endpoint import CLI_NAMES
from maintenance import evidence
from readiness.views import REVOKE_NOTE_MAX

TEXT_MAX = 5_000  # a reason, a note, an evidence text
PEM_MAX = 64_000  # one PEM file or SSH key / known_hosts text

# How the services' messages name the inputs: the fields of these bodies.
NAMES = {
    **CLI_NAMES,
    "url_problem": "url: {}.",
    "environment": "environment",
    "tls_ca": "tls.ca",
    "tls_cert": "tls.cert",
    "tls_key": "tls.key",
    "tls_any": "tls",
    "ssh_key": "ssh_key",
    "ssh_known_hosts": "ssh_known_hosts",
    "ssh_accept_new_host_key": "ssh_accept_new_host_key",
    "ssh_any": "ssh_key, ssh_known_hosts and ssh_accept_new_host_key",
    "recipients": "notify",
}


class TlsIn(Schema):
    """PEM text of the CA certificate, client certificate and client key (tcp:// URLs)."""

    ca: str = Field("", max_length=PEM_MAX)
    cert: str = Field("", max_length=PEM_MAX)
    key: str = Field("", max_length=PEM_MAX)


class ClusterIn(Schema):
    """A cluster to register, as the settings page and `manage.py cluster add` take it."""

    name: str = Field(max_length=100)
    url: str = Field(max_length=500, description="unix:///path, tcp://host:2376 or ssh://u@h")
    environment: str = "production"
    poll_interval: int | None = Field(None, description="seconds; default: the site's")
    enabled: bool = True
    drain_assist: bool = False
    dns_server: str = Field("", max_length=100)
    ingress_addresses: str = Field("", max_length=2_000)
    notify: list[str] = Field([], max_length=100, description="email addresses")
    tls: TlsIn | None = None
    ssh_key: str = Field("", max_length=PEM_MAX)
    ssh_known_hosts: str = Field("", max_length=PEM_MAX)
    ssh_accept_new_host_key: bool = False
    policy: dict[str, Any] | None = Field(None, description="readiness policy overrides")


class ClusterPatch(Schema):
    """Settings to change; a field left out keeps its value, TLS/SSH material left out is kept.
    `notify` replaces the email recipients (users chosen on the settings page stay)."""

    name: str | None = Field(None, max_length=100)
    url: str | None = Field(None, max_length=500)
    environment: str | None = None
    poll_interval: int | None = None
    enabled: bool | None = None
    drain_assist: bool | None = None
    dns_server: str | None = Field(None, max_length=100)
    ingress_addresses: str | None = Field(None, max_length=2_000)
    notify: list[str] | None = Field(None, max_length=100)
    tls: TlsIn | None = None
    ssh_key: str = Field("", max_length=PEM_MAX)
    ssh_known_hosts: str = Field("", max_length=PEM_MAX)
    ssh_accept_new_host_key: bool = False
    policy: dict[str, Any] | None = None


class WaiverIn(Schema):
    rule: str = Field(max_length=64)
    object: str = Field("", max_length=300, description="selector; empty: every object")
    reason: str = Field(max_length=TEXT_MAX)
    expires: date = Field(description="last day the waiver applies (ends 23:59 UTC)")


class RevokeIn(Schema):
    note: str = Field("", max_length=REVOKE_NOTE_MAX)


class WindowIn(Schema):
    """Exactly one of `weekdays` (weekly shorthand: "sun" or "sun,wed"), `rrule` (any RFC
    5545 rule) or `once` (a one-off day), as `manage.py maintenance window add` takes them."""

    weekdays: str = ""
    rrule: str = Field("", max_length=500)
    once: date | None = None
    start_time: str = Field(description="local start HH:MM", max_length=5)
    duration_minutes: int
    tz: str = Field(description="IANA zone, e.g. Europe/Berlin", max_length=64)
    name: str = Field("", max_length=100)
    active_from: date | None = None
    active_until: date | None = None


class WindowPatch(Schema):
    """Fields to change; `weekdays` or `rrule` replaces the rule."""

    name: str | None = Field(None, max_length=100)
    weekdays: str | None = None
    rrule: str | None = Field(None, max_length=500)
    start_time: str | None = Field(None, max_length=5)
    duration_minutes: int | None = None
    tz: str | None = Field(None, max_length=64)
    active_from: date | None = None
    active_until: date | None = None


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=255)


class RebootIn(Schema):
    node_id: str = Field(max_length=64)
    note: str = Field(max_length=TEXT_MAX, description="how the reboot was checked")


class ValidationIn(Schema):
    """A restore test: the tool's output (`source` and `output`, parsed as `manage.py
    maintenance backup record --from` does) or a written `evidence` with `passed`."""

    source: Literal[evidence.KINDS] | None = None  # type: ignore[valid-type]
    output: list[str] = Field([], max_length=10, description="the tool's output(s)")
    max_age_hours: int | None = Field(None, description="with source: the snapshot's max age")
    evidence: str = Field("", max_length=TEXT_MAX)
    passed: bool = True


class ChecklistIn(Schema):
    template: str
    target: datetime = Field(description="target time; without an offset: wall time in tz")
    tz: str = Field("UTC", max_length=64)
    dns_hostname: str = Field("", max_length=253)


class StepIn(Schema):
    done: bool = True
    note: str = Field("", max_length=TEXT_MAX)
