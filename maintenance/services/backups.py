"""Writes of backup-restore tests: register a backup, record a restore test."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit import services as audit
from clusters.models import Cluster
from maintenance import backups as backup_rules
from maintenance.models import Backup, BackupValidation, Reminder

BACKUP_FIELDS = ("name", "kind", "interval_days", "owner")


def backup_create(
    *,
    cluster: Cluster,
    name: str,
    now: datetime,
    interval_days: int = backup_rules.DEFAULT_INTERVAL,
    owner: str = "",
    validated_at: datetime | None = None,
    validated_by=None,
    kind: str = Backup.Kind.DATA,
) -> Backup:
    """Register a backup of KIND (application data or swarm raft state); VALIDATED_AT records
    an earlier passed restore test (checked by backup_validate: one in the future stores
    nothing)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Name the backup (for example: orders database).")
    if kind not in Backup.Kind.values:
        raise ValidationError(
            f"Unknown backup kind {kind!r} (one of: {', '.join(Backup.Kind.values)})."
        )
    try:
        backup_rules.check_interval(interval_days)
    except backup_rules.BackupError as exc:
        raise ValidationError(str(exc)) from None
    with transaction.atomic():
        if cluster.backups.filter(name=name).exists():
            raise ValidationError(f"Cluster {cluster.name} already has a backup named {name!r}.")
        backup = Backup.objects.create(
            cluster=cluster,
            name=name,
            kind=kind,
            interval_days=interval_days,
            owner=owner,
            created_at=now,
        )
        audit.record(
            action="backup.create",
            obj=backup,
            object_type="backup",
            after={"cluster": cluster.name, **audit.fields(backup, BACKUP_FIELDS)},
        )
        if validated_at is not None:
            backup_validate(
                backup=backup,
                evidence="restore test recorded at registration",
                passed=True,
                now=now,
                validated_at=validated_at,
                user=validated_by,
            )
    return backup


def backup_validate(
    *,
    backup: Backup,
    evidence: str,
    passed: bool,
    now: datetime,
    user=None,
    by_name: str = "",
    validated_at: datetime | None = None,
) -> BackupValidation:
    """Record a restore test (who, when, evidence, outcome); pending reminders of it go."""
    evidence = (evidence or "").strip()
    if not evidence:
        raise ValidationError("Evidence is required: what was restored, where, and how checked.")
    validated_at = validated_at or now
    if validated_at > now:
        raise ValidationError("The validation time is in the future.")
    with transaction.atomic():
        validation = BackupValidation.objects.create(
            backup=backup,
            validated_at=validated_at,
            validated_by=user,
            validated_by_name=by_name or (user.get_username() if user else ""),
            evidence=evidence,
            outcome=BackupValidation.Outcome.PASSED if passed else BackupValidation.Outcome.FAILED,
            recorded_at=now,
        )
        audit.record(
            action="backup.validate",
            obj=backup,
            object_type="backup",
            after={
                "cluster": backup.cluster.name,
                "outcome": validation.outcome,
                "validated_at": validated_at.isoformat(),
                "evidence": evidence[:500],
            },
        )
        if passed:
            Reminder.objects.filter(
                subject_key__startswith=f"backup:{backup.pk}:", status=Reminder.Status.PENDING
            ).delete()
    return validation
