"""Writes of the readiness app: evaluations, waivers, policies."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from accounts.roles import ADMIN, OPERATOR
from audit import services as audit
from clusters.models import Cluster
from clusters.selectors import may
from readiness import catalogue, selectors
from readiness.changes import latest_change_at
from readiness.checks import CRITICAL, FAIL, NOT_EVALUATED, PENDING, WAIVED
from readiness.facts import OperationsFacts
from readiness.models import (
    CheckResult,
    ClusterPolicy,
    DailyScore,
    Evaluation,
    FailureChange,
    Waiver,
    WaiverEvent,
)
from readiness.policy import PolicyError, policy_from_dict
from readiness.scoring import GRADES
from watchkeeper.history import thin_per_cluster

GRADE_RANK = {letter: index for index, (letter, _) in enumerate(GRADES)}


def _failure_key(rule: str, object_type: str, object_id: str, object_name: str) -> str:
    return f"{rule}|{object_type}|{object_id or object_name}"


STORED_STATUSES = (FAIL, WAIVED, NOT_EVALUATED, PENDING)
CHECK_COLUMNS = (
    "evaluation_id", "rule", "category", "severity", "status", "object_type", "object_id",
    "object_name", "message", "remediation", "waiver_id",
)  # fmt: skip


def _check_row(evaluation_id: int, c) -> tuple:
    return (
        evaluation_id, c.rule, c.category, c.severity, c.status, c.object.type, c.object.id,
        c.object.name[:255], c.message, c.remediation, c.waiver_id,
    )  # fmt: skip


def _copy_text(text: str) -> str:
    """TEXT escaped for COPY's text format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _copy_line(evaluation_id: int, c) -> str:
    """One COPY line; only the free text (object id and name, message, remediation) is
    escaped: rule ids, categories, severities, statuses and object types are fixed words."""
    obj = c.object
    waiver = "\\N" if c.waiver_id is None else str(c.waiver_id)
    return (
        f"{evaluation_id}\t{c.rule}\t{c.category}\t{c.severity}\t{c.status}\t{obj.type}\t"
        f"{_copy_text(obj.id)}\t{_copy_text(obj.name[:255])}\t{_copy_text(c.message)}\t"
        f"{_copy_text(c.remediation)}\t{waiver}\n"
    )


_COPY_CHUNK = 64 * 1024


class _CopyLines(io.TextIOBase):
    """The COPY text of LINES, made as the copy reads it: 100,000 checks are some 30 MB of
    text, which a StringIO of the whole (four bytes a character inside) holds several times
    over at once."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._rest = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        parts, length = [self._rest], len(self._rest)
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if size is not None and 0 <= size <= length:
                break
        text = "".join(parts)
        if size is None or size < 0:
            size = len(text)
        self._rest = text[size:]
        return text[:size]


def _insert_all(model, columns: tuple[str, ...], items: list, row, line) -> int:
    """ITEMS into MODEL in one statement: on PostgreSQL a COPY of LINE(item) (a line of COPY
    text in COLUMNS order), streamed; elsewhere a bulk insert of ROW(item) (a tuple in COLUMNS
    order). Returns how many."""
    if not items:
        return 0
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row(item), strict=True))) for item in items],
            batch_size=500,
        )
        return len(items)
    sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:  # Django's debug cursor logs copy_expert like a query
        cursor.copy_expert(sql, _CopyLines(map(line, items)), _COPY_CHUNK)
    return len(items)


def _store_checks(evaluation: Evaluation, checks) -> int:
    """Store the checks that are not passes (fail, waived, not evaluated): one statement.

    Passes are only counted, in the evaluation's ``rules`` and ``summary``; a fresh
    ``readiness report`` lists them. PostgreSQL gets a COPY, other databases a bulk insert.
    """
    kept = [c for c in checks if c.status in STORED_STATUSES]
    return _insert_all(
        CheckResult,
        CHECK_COLUMNS,
        kept,
        row=lambda c: _check_row(evaluation.pk, c),
        line=lambda c: _copy_line(evaluation.pk, c),
    )


CHANGE_COLUMNS = (
    "cluster_id", "at", "appeared", "rule", "severity", "object_type", "object_name", "message",
    "linked", "previous_at",
)  # fmt: skip


def _change_line(row: tuple) -> str:
    """One COPY line of a FailureChange row; only the object name and message are escaped."""
    cluster_id, at, appeared, rule, severity, kind, name, message, linked, previous = row
    previous = "\\N" if previous is None else previous.isoformat()
    return (
        f"{cluster_id}\t{at.isoformat()}\t{'t' if appeared else 'f'}\t{rule}\t{severity}\t"
        f"{kind}\t{_copy_text(name)}\t{_copy_text(message)}\t{'t' if linked else 'f'}\t"
        f"{previous}\n"
    )


def _store_changes(*, cluster: Cluster, at: datetime, appeared: list, resolved: list) -> int:
    """The failures APPEARED (checks) and RESOLVED ((rule, object type, object name, severity))
    at this evaluation as FailureChange rows, each linked to the latest earlier row of its
    failure (previous_at, see readiness.changes): up to three statements (the lookup, then a
    COPY on PostgreSQL), none when nothing changed."""
    rows = [
        (c.rule, c.object.type, c.object.name[:255], True, c.severity, c.message) for c in appeared
    ]
    rows += [(rule, kind, name, False, severity, "") for rule, kind, name, severity in resolved]
    if not rows:
        return 0
    latest = latest_change_at(cluster_id=cluster.pk, keys={r[:3] for r in rows})
    linked = []
    for rule, kind, name, is_new, severity, message in rows:
        key = (rule, kind, name)
        linked.append(
            (cluster.pk, at, is_new, rule, severity, kind, name, message, True, latest.get(key))
        )
        latest[key] = at  # a failure twice in one evaluation: the second row follows the first
    return _insert_all(FailureChange, CHANGE_COLUMNS, linked, row=lambda r: r, line=_change_line)


@dataclass(frozen=True)
class Notice:
    """Something an evaluation found worth telling the cluster's recipients (a new critical
    failure, a grade drop); the dashboard queues it in maintenance's outbox."""

    kind: str
    subject_key: str
    title: str
    body: str


@dataclass(frozen=True)
class EvaluationOutcome:
    evaluation: Evaluation
    notices: list[Notice]


# pg_advisory_xact_lock(EVALUATION_LOCK, cluster id): one evaluation of a cluster at a time
EVALUATION_LOCK = 1802


def _lock_evaluations(cluster: Cluster) -> None:
    """Wait for any other evaluation of CLUSTER being stored to commit, until this transaction
    ends (PostgreSQL; SQLite has one writer at a time). A re-scoring after a waiver change and a
    poll would otherwise both compare with the same previous evaluation, and the second's
    FailureChange rows would not be linked to the first's (readiness.changes counts a failure
    with one row in a span as its net change)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [EVALUATION_LOCK, cluster.pk])


def evaluation_run(
    *, cluster, snapshot, now: datetime, operations: OperationsFacts
) -> EvaluationOutcome:
    """Score SNAPSHOT for CLUSTER with its maintenance facts (OPERATIONS), store the
    evaluation; returns it with the notices its changes call for (dashboard.pipeline queues
    them in the same transaction)."""
    report = selectors.report_for_cluster(
        cluster=cluster, snapshot=snapshot, now=now, operations=operations, keep_passes=False
    )
    _lock_evaluations(cluster)
    previous = selectors.latest_evaluation(cluster=cluster)
    before = _failures(previous)
    nodes_unknown = sum(1 for node in snapshot.nodes if node.state == "unknown")
    # The notices compare with the last evaluation that knew every node's state: while a
    # manager that has just restarted reports nodes "unknown", nothing is notified, and what
    # that settling made fail (then pass again) is never notified at all.
    baseline = previous
    if previous is not None and previous.nodes_unknown:
        baseline = selectors.latest_evaluation(cluster=cluster, settled=True)
    notified_before = before if baseline is previous else _failures(baseline)
    failing = [c for c in report.checks if c.status == FAIL]
    after = {_failure_key(c.rule, c.object.type, c.object.id, c.object.name): c for c in failing}
    new_keys = [key for key in after if key not in before]
    resolved_keys = [key for key in before if key not in after]

    score = report.score
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            cluster=cluster,
            environment=report.environment,
            snapshot_at=snapshot.taken_at,
            evaluated_at=now,
            score=score.score,
            grade=score.grade,
            grade_capped=score.grade_capped,
            nodes_unknown=nodes_unknown,
            categories=score.categories,
            summary=report.summary,
            rules=[r.to_dict(score.total_weight) for r in score.rules],
            new_failures=[
                [after[k].rule, after[k].object.type, after[k].object.name] for k in new_keys
            ],
            resolved_failures=[list(before[k][:3]) for k in resolved_keys],
        )
        _store_checks(evaluation, report.checks)
        _store_changes(
            cluster=cluster,
            at=now,
            appeared=[after[k] for k in new_keys],
            resolved=[before[k] for k in resolved_keys],
        )
        notices = [
            Notice(
                kind="critical_finding",
                subject_key=key,
                title=f"{cluster.name}: {item.rule} fails on {item.object.type} {item.object.name}",
                body=f"{item.message}\n\nHow to fix: {item.remediation}",
            )
            for key in after
            if key not in notified_before and (item := after[key]).severity == CRITICAL
        ]
        if baseline is not None and GRADE_RANK[score.grade] > GRADE_RANK[baseline.grade]:
            notices.append(
                Notice(
                    kind="grade_drop",
                    subject_key=f"grade|{baseline.id}|{evaluation.id}",
                    title=f"{cluster.name}: readiness grade dropped from {baseline.grade} to "
                    f"{score.grade}",
                    body=f"Score {baseline.score} -> {score.score}."
                    + (
                        " A critical check fails: the grade is capped at C."
                        if score.grade_capped
                        else ""
                    )
                    + f"\nNew failures: {len(new_keys)}; resolved: {len(resolved_keys)}.",
                )
            )
        if nodes_unknown:
            notices = []
    return EvaluationOutcome(evaluation=evaluation, notices=notices)


def _failures(evaluation: Evaluation | None) -> dict[str, list]:
    """EVALUATION's failing checks: failure key -> [rule, object type, object name]."""
    if evaluation is None:
        return {}
    # A plain cursor: Django's values_list costs some 2 µs a row, 0.2 s for the 91,565
    # failing checks of a big swarm's evaluation. In id order, as the model orders them.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rule, object_type, object_id, object_name, severity "  # noqa: S608
            f"FROM {CheckResult._meta.db_table} WHERE evaluation_id = %s AND status = %s "
            "ORDER BY id",
            [evaluation.pk, FAIL],
        )
        failed = cursor.fetchall()
    return {
        _failure_key(rule, object_type, object_id, object_name): (
            rule, object_type, object_name, severity
        )
        for rule, object_type, object_id, object_name, severity in failed
    }  # fmt: skip


def _validate_selector(selector: str) -> str:
    selector = selector.strip()
    if "=" in selector:
        key, _, value = selector.partition("=")
        if not key.strip() or not value.strip():
            raise ValidationError({"selector": "use label=value, with both parts"})
    return selector


def waiver_create(
    *,
    cluster,
    rule: str,
    reason: str,
    owner,
    expires_at: datetime,
    created_by,
    now: datetime,
    selector: str = "",
) -> Waiver:
    """Create a waiver (operators and admins); the expiry is required, at most 180 days ahead."""
    if not may(created_by, cluster, OPERATOR):
        raise PermissionDenied("Only operators and admins of the cluster's team create waivers.")
    errors = {}
    if rule not in catalogue.rule_ids():
        errors["rule"] = f"unknown rule {rule!r}"
    if not reason or not reason.strip():
        errors["reason"] = "a reason is required"
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = "the expiry must be in the future"
    elif expires_at > now + timedelta(days=Waiver.MAX_DAYS):
        errors["expires_at"] = f"the expiry can be at most {Waiver.MAX_DAYS} days ahead"
    if errors:
        raise ValidationError(errors)
    selector = _validate_selector(selector)
    with transaction.atomic():
        waiver = Waiver.objects.create(
            cluster=cluster,
            rule=rule,
            selector=selector,
            reason=reason.strip(),
            owner=owner,
            expires_at=expires_at,
            created_by=created_by,
            created_at=now,
        )
        WaiverEvent.objects.create(
            waiver=waiver,
            action=WaiverEvent.Action.CREATED,
            actor=created_by,
            at=now,
            detail={
                "rule": rule,
                "selector": selector,
                "reason": waiver.reason,
                "owner": owner.get_username(),
                "expires_at": expires_at.isoformat(),
            },
        )
        audit.record(
            action="waiver.create",
            obj=waiver,
            after={
                "cluster": cluster.name,
                **WaiverEvent.objects.filter(waiver=waiver).latest("pk").detail,
            },
        )
    return waiver


def waiver_revoke(*, waiver: Waiver, by, now: datetime, note: str = "") -> Waiver:
    """Stop a waiver from applying from now on."""
    if not may(by, waiver.cluster, OPERATOR):
        raise PermissionDenied("Only operators and admins of the cluster's team revoke waivers.")
    with transaction.atomic():
        changed = Waiver.objects.filter(pk=waiver.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=by
        )
        if changed:
            WaiverEvent.objects.create(
                waiver=waiver,
                action=WaiverEvent.Action.REVOKED,
                actor=by,
                at=now,
                detail={"note": note},
            )
            audit.record(
                action="waiver.revoke", obj=waiver, after={"rule": waiver.rule, "note": note}
            )
    waiver.refresh_from_db()
    return waiver


def waivers_expire(*, now: datetime) -> list[Waiver]:
    """Record the expiry of waivers past their date; returns them (with cluster and owner) for
    the dashboard to notify their owners in the same transaction."""
    expired = []
    with transaction.atomic():
        due = (
            Waiver.objects.select_for_update(skip_locked=True)
            .filter(expired_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now)
            .select_related("cluster", "owner")
        )
        for waiver in due:
            waiver.expired_at = now
            waiver.save(update_fields=["expired_at"])
            WaiverEvent.objects.create(
                waiver=waiver,
                action=WaiverEvent.Action.EXPIRED,
                at=now,
                detail={"expires_at": waiver.expires_at.isoformat()},
            )
            expired.append(waiver)
    return expired


def policy_update(*, cluster, data: dict, by, now: datetime) -> ClusterPolicy:
    """Validate and save the cluster's readiness policy (admins)."""
    if not may(by, cluster, ADMIN):
        raise PermissionDenied("Only admins of the cluster's team change policies.")
    try:
        policy = policy_from_dict(data)
    except PolicyError as exc:
        raise ValidationError(exc.errors) from None
    stored_before = ClusterPolicy.objects.filter(cluster=cluster).values_list("data", flat=True)
    previous = policy_from_dict(stored_before.first()).to_dict()
    stored, _ = ClusterPolicy.objects.update_or_create(
        cluster=cluster, defaults={"data": policy.to_dict(), "updated_by": by, "updated_at": now}
    )
    if previous != stored.data:
        audit.record(
            action="policy.update",
            obj=cluster,
            object_type="clusterpolicy",
            before=_changed(previous, stored.data),
            after=_changed(stored.data, previous),
        )
    return stored


def _changed(values: dict, other: dict) -> dict:
    """The keys of VALUES whose value differs in OTHER (a policy change's before/after)."""
    return {key: value for key, value in values.items() if other.get(key) != value}


# FailureChange rows are kept this long: the week the cluster page and the digest look back
# on, and a day more.
CHANGES_KEPT = timedelta(days=8)


def evaluations_prune(*, now: datetime) -> dict[str, int]:
    """Thin old evaluations to one per day; drop the checks of all but each cluster's latest
    two evaluations and its latest settled one (the next poll's diff and notices read them;
    nothing else reads older checks: what changed is kept as FailureChange rows), the
    FailureChange rows older than CHANGES_KEPT, and the daily lowest scores (DailyScore) older
    than WATCHKEEPER_HISTORY_DAYS."""
    kept = Cluster.objects.annotate(
        latest=selectors.latest_per_cluster("id"),
        before=selectors.latest_per_cluster("id", offset=1),
        settled=selectors.latest_per_cluster("id", settled=True),
    ).values_list("latest", "before", "settled")
    keep = {pk for ids in kept for pk in ids if pk is not None}
    removed_checks, _ = CheckResult.objects.exclude(evaluation_id__in=keep).delete()
    evaluations = thin_per_cluster(Evaluation, time_field="evaluated_at", now=now, keep=keep)
    changes, _ = FailureChange.objects.filter(at__lt=now - CHANGES_KEPT).delete()
    oldest = (now - timedelta(days=settings.WATCHKEEPER_HISTORY_DAYS)).date()
    days, _ = DailyScore.objects.filter(day__lt=oldest).delete()
    return {
        "evaluations": evaluations,
        "checks": removed_checks,
        "changes": changes,
        "daily_scores": days,
    }
