"""Backup-restore test states and their reminders on the spec's dates (frozen clock)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from maintenance import backups as rules
from maintenance import selectors
from maintenance.models import Backup, BackupValidation, Reminder
from maintenance.services import backups as backup_services
from maintenance.services import tick as scheduler

T = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days_after", "state"),
    [(0, "ok"), (75, "ok"), (76, "due_soon"), (89, "due_soon"), (90, "overdue"), (200, "overdue")],
)
def test_it_computes_states_from_the_last_passed_test(days_after, state):
    result = rules.status(last_passed=T, interval_days=90, now=T + timedelta(days=days_after))
    assert result.state == state
    assert result.due_at == T + timedelta(days=90)


def test_it_knows_never_validated():
    assert rules.status(last_passed=None, interval_days=90, now=T).state == "never_validated"


@pytest.mark.parametrize("days", [29, 91])
def test_it_bounds_the_interval(days):
    with pytest.raises(rules.BackupError):
        rules.check_interval(days)


def kinds(cluster):
    return sorted(
        (r.kind, r.due_at.date().isoformat())
        for r in Reminder.objects.filter(cluster=cluster).order_by("due_at")
        if r.recipient == "ops@example.org"
    )


@pytest.mark.django_db
def test_it_reminds_due_soon_then_overdue_weekly(cluster, recipients, locmem):
    backup = backup_services.backup_create(
        cluster=cluster, name="orders database", interval_days=30, now=T, validated_at=T
    )
    due = T + timedelta(days=30)
    with time_machine.travel(due - timedelta(days=15), tick=False):
        scheduler.tick(now=due - timedelta(days=15))
        assert kinds(cluster) == []
    with time_machine.travel(due - timedelta(days=14), tick=False):
        scheduler.tick(now=due - timedelta(days=14))
        assert kinds(cluster) == [("backup_due_soon", "2027-01-26")]
        state = dict(
            (b.name, s.state)
            for b, s in selectors.backup_states(cluster=cluster, now=due - timedelta(days=14))
        )
        assert state == {"orders database": "due_soon"}
    scheduler.tick(now=due - timedelta(days=1))  # nothing new
    scheduler.tick(now=due)
    scheduler.tick(now=due + timedelta(days=3))
    scheduler.tick(now=due + timedelta(days=7))
    assert kinds(cluster) == [
        ("backup_due_soon", "2027-01-26"),
        ("backup_overdue", "2027-02-09"),
        ("backup_overdue", "2027-02-16"),
    ]
    assert len(locmem) == 6  # two recipients each
    assert all(m.extra_headers["Message-ID"].endswith("@watchkeeper>") for m in locmem)
    # a failed test does not reset the due date
    backup_services.backup_validate(
        backup=backup,
        evidence="restore failed: missing WAL",
        passed=False,
        now=due + timedelta(days=8),
    )
    state = selectors.backup_states(cluster=cluster, now=due + timedelta(days=8))[0][1]
    assert state.state == "overdue"
    # a passed one does
    backup_services.backup_validate(
        backup=backup, evidence="restored into staging, row counts match", passed=True,
        now=due + timedelta(days=9),
    )  # fmt: skip
    state = selectors.backup_states(cluster=cluster, now=due + timedelta(days=9))[0][1]
    assert state.state == "ok"
    assert state.due_at == due + timedelta(days=9 + 30)
    scheduler.tick(now=due + timedelta(days=14))
    assert len(kinds(cluster)) == 3


@pytest.mark.django_db
def test_it_keeps_the_validation_history(cluster, operator):
    backup = backup_services.backup_create(cluster=cluster, name="orders", now=T)
    backup_services.backup_validate(
        backup=backup, evidence="restore ok", passed=True, user=operator, now=T
    )
    backup_services.backup_validate(
        backup=backup,
        evidence="restore failed",
        passed=False,
        user=operator,
        now=T + timedelta(days=1),
    )
    history = list(backup.validations.values_list("outcome", "validated_by__username", "evidence"))
    assert history == [
        ("failed", "otto", "restore failed"),
        ("passed", "otto", "restore ok"),
    ]


@pytest.mark.django_db
def test_it_reminds_a_never_validated_backup_weekly(cluster, recipients, locmem):
    backup_services.backup_create(cluster=cluster, name="uploads", now=T)
    scheduler.tick(now=T + timedelta(minutes=1))
    scheduler.tick(now=T + timedelta(days=7, minutes=1))
    assert kinds(cluster) == [("backup_overdue", "2027-01-10"), ("backup_overdue", "2027-01-17")]


@pytest.mark.django_db
def test_cli_registers_and_validates_backups(cluster, recipients):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with time_machine.travel(T, tick=False):
        call_command(
            "maintenance", "backup", "add", "prod", "orders", "--every", "60",
            "--validated-at", "2026-12-01T10:00:00Z", stdout=out,
        )  # fmt: skip
        call_command(
            "maintenance", "backup", "validate", "prod", "orders", "--evidence", "restored",
            "--failed", stdout=out,
        )  # fmt: skip
    assert "ok, due 2027-01-30" in out.getvalue()
    backup = cluster.backups.get()
    assert [v.outcome for v in backup.validations.all()] == ["failed", "passed"]


@pytest.mark.django_db
def test_it_registers_nothing_with_a_restore_test_in_the_future(cluster):
    with pytest.raises(ValidationError, match="in the future"):
        backup_services.backup_create(
            cluster=cluster, name="orders", now=T, validated_at=T + timedelta(minutes=1)
        )
    assert not Backup.objects.exists()
    assert not BackupValidation.objects.exists()
