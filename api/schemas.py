"""The API's typed shapes (OpenAPI is generated from these). The cluster list and the report
carry exactly the contract shapes of `cluster list --format json` and `readiness report
--format json`, built by the same functions."""

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema


class Error(Schema):
    code: str
    message: str


# --- clusters (`cluster list --format json`) ---


class LastPoll(Schema):
    at: str | None
    ok: bool | None
    error: str | None


class ClusterOut(Schema):
    name: str
    team: str
    environment: str
    url: str
    nodes: int
    services: int
    last_poll: LastPoll
    score: int | None
    grade: str | None


# --- the readiness report (`readiness report NAME --format json`) ---


class CategoryScore(Schema):
    score: int
    rules: int


class CheckObject(Schema):
    type: str
    id: str
    name: str


class CheckOut(Schema):
    rule: str
    category: str
    severity: str
    status: str
    object: CheckObject
    message: str
    remediation: str


class RuleScore(Schema):
    rule: str
    category: str
    severity: str
    weight: int
    passed: int
    failed: int
    fraction: float
    contribution: float
    max_contribution: float


class FixOut(Schema):
    rule: str
    objects: list[CheckObject]
    gain: int
    grade_after: str


class ReportOut(Schema):
    cluster: str | None
    environment: str
    snapshot_at: str | None
    evaluated_at: str
    score: int
    grade: str
    grade_capped: bool
    categories: dict[str, CategoryScore]
    summary: dict[str, int]
    checks: list[CheckOut]
    rules: list[RuleScore]
    notes: list[str]
    fix_first: list[FixOut]


class EvaluationOut(Schema):
    evaluated_at: datetime
    score: int
    grade: str
    grade_capped: bool
    categories: dict[str, CategoryScore]


# --- findings ---


class FindingOut(Schema):
    id: int
    cluster: str
    rule: str
    category: str
    severity: str
    status: str
    object: CheckObject
    message: str
    remediation: str
    waiver_id: int | None


class FindingsPage(Schema):
    items: list[FindingOut]
    next_cursor: str | None


# --- nodes and services ---


class NodeOut(Schema):
    id: str
    hostname: str
    role: str
    state: str
    availability: str
    leader: bool
    reachability: str
    addr: str
    cpus: float
    memory_bytes: int
    engine_version: str
    labels: dict[str, Any]
    first_seen_at: datetime
    last_seen_at: datetime


class ServiceOut(Schema):
    id: str
    name: str
    image: str
    mode: str
    replicas: int | None
    running_tasks: int
    desired_tasks: int
    constraints: list[Any]
    memory_limit: int | None
    memory_reservation: int | None
    cpu_limit: float | None
    cpu_reservation: float | None
    labels: dict[str, Any]


# --- maintenance ---


class WindowOut(Schema):
    id: int
    name: str
    rrule: str  # RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=SU
    start_time: str
    duration_minutes: int
    tz: str
    active_from: date
    active_until: date | None


class OccurrenceOut(Schema):
    """`maintenance occurrences --format json`, plus the occurrence's id."""

    id: int
    window: str
    start: str
    end: str
    local_start: str
    status: str


class BackupOut(Schema):
    id: int
    cluster: str
    name: str
    interval_days: int
    owner: str
    last_passed_at: datetime | None
    due_at: datetime | None
    state: str


class StepOut(Schema):
    id: int
    position: int
    title: str
    offset_label: str
    owner: str
    due_at: datetime
    done: bool
    done_by: str | None
    done_at: datetime | None
    note: str
    probe: str
    probe_result: str
    probe_at: datetime | None


class ChecklistRunOut(Schema):
    id: int
    cluster: str
    template: str
    title: str
    target_at: datetime
    tz: str
    steps_total: int
    steps_done: int
    steps_overdue: int


class ChecklistRunDetail(ChecklistRunOut):
    steps: list[StepOut]


class ReminderOut(Schema):
    id: int
    cluster: str | None
    kind: str
    recipient: str = Field(description="The email address; empty for a channel message.")
    channel: str | None = Field(None, description="The channel's name; null for an email.")
    destination: str = Field(description="The email address or the channel's name.")
    title: str
    due_at: datetime
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None


# --- writes ---


class ClusterSettings(Schema):
    poll_interval: int
    enabled: bool
    drain_assist: bool
    dns_server: str
    ingress_addresses: str
    notify: list[str]
    credentials_stored: dict[str, bool] = Field(
        description='which TLS/SSH materials are stored ({"ca": true, ...}), never their values'
    )


class ClusterWritten(ClusterOut):
    settings: ClusterSettings


class PollRunOut(Schema):
    id: int
    started_at: datetime
    duration_ms: int
    ok: bool
    error: str
    nodes: int
    services: int
    tasks: int


class PollOut(Schema):
    id: int = Field(description="follow it at GET /clusters/{name}/polls/{id}")
    cluster: str
    requested_at: datetime
    status: str = Field(description="queued, running, succeeded, failed or lost")
    run: PollRunOut | None


class WaiverOut(Schema):
    id: int
    cluster: str
    rule: str
    object: str
    reason: str
    owner: str
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


class WindowWritten(WindowOut):
    schedule: str
    warning: str | None


class OccurrenceWritten(OccurrenceOut):
    cancelled_reason: str


class VerificationOut(Schema):
    id: int
    occurrence: int
    node_id: str
    hostname: str
    verified_at: datetime
    source: str
    confirmed_by: str | None
    note: str
    occurrence_status: str


class ValidationOut(Schema):
    id: int
    backup: int
    outcome: str
    evidence: str
    source: str
    validated_at: datetime
    validated_by: str
    snapshot_at: datetime | None
    snapshot_bytes: int | None
    duration_seconds: float | None
