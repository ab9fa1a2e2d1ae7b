"""Backup-restore tests recorded from tool output: restic against a real repository made here,
kopia and velero from hand-written samples in their documented formats."""

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from maintenance import evidence
from maintenance.models import Backup, BackupValidation
from maintenance.services import backups as backup_services

RESTIC = shutil.which("restic")
needs_restic = pytest.mark.skipif(RESTIC is None, reason="restic (Debian package) not installed")


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("maintenance", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def restic_repo(tmp_path):
    """A real restic repository with one snapshot; returns a function running restic."""
    env = {
        **os.environ,
        "RESTIC_PASSWORD": "test-only-password",
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
    }
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.sql").write_bytes(os.urandom(120_000))  # incompressible: one big pack

    def restic(*args, check=True):
        """restic's output as an operator saves it (`restic ... > FILE 2>&1`)."""
        done = subprocess.run(
            [RESTIC, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(done.stdout)
        return done.stdout

    restic("init")
    restic("backup", "--json", str(data))
    return restic, tmp_path


def outputs(restic, tmp_path, *, check=True):
    paths = []
    for name, args in (
        ("check.txt", ("check", "--read-data", "--json")),
        ("snapshots.json", ("snapshots", "--json", "latest")),
        ("stats.json", ("stats", "--json", "latest")),
    ):
        path = tmp_path / name
        path.write_text(restic(*args, check=check if name == "check.txt" else True))
        paths.append(str(path))
    return paths


@pytest.fixture
def orders(cluster):
    return backup_services.backup_create(cluster=cluster, name="orders", now=timezone.now())


@needs_restic
@pytest.mark.django_db
def test_it_records_a_passed_restic_check_with_snapshot_time_and_size(restic_repo, orders):
    restic, tmp_path = restic_repo
    files = outputs(restic, tmp_path)
    out, _ = run("backup", "record", "prod/orders", "--from", "restic-check", *files)
    validation = BackupValidation.objects.get(backup=orders)
    assert validation.outcome == "passed", validation.evidence
    assert validation.source == "restic-check"
    assert abs(validation.snapshot_at - timezone.now()) < timedelta(minutes=5)
    assert validation.snapshot_bytes == json.loads(open(files[2]).read())["total_size"] > 100_000
    assert "PASSED" in out


@needs_restic
@pytest.mark.django_db
def test_it_fails_a_restic_snapshot_older_than_the_maximum_age(restic_repo, orders):
    restic, tmp_path = restic_repo
    files = outputs(restic, tmp_path)
    with time_machine.travel(timezone.now() + timedelta(hours=49), tick=False):
        run("backup", "record", str(orders.pk), "--from", "restic-check", *files)
    validation = BackupValidation.objects.get(backup=orders)
    assert validation.outcome == "failed"
    assert "49 h old, more than the 48 h" in validation.evidence


@needs_restic
@pytest.mark.django_db
def test_it_fails_a_damaged_restic_repository(restic_repo, orders):
    restic, tmp_path = restic_repo
    (pack,) = [p for p in (tmp_path / "repo" / "data").rglob("*") if p.stat().st_size > 100_000]
    damaged = bytearray(pack.read_bytes())
    damaged[5000:5100] = b"x" * 100  # same size, wrong content: only reading the data finds it
    pack.write_bytes(bytes(damaged))
    files = outputs(restic, tmp_path, check=False)
    run("backup", "record", "prod/orders", "--from", "restic-check", *files)
    validation = BackupValidation.objects.get(backup=orders)
    assert validation.outcome == "failed"
    assert "repository contains errors" in validation.evidence


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("restic-check", "hello world\n"),
        ("restic-check", "[1, 2, 3]"),
        ("kopia-verify", "{}"),
        ("velero-restore", "not json"),
        ("velero-restore", '{"kind": "Restore", "status": {"phase": "InProgress"}}'),
    ],
)
def test_it_refuses_a_file_that_does_not_parse_and_stores_nothing(orders, tmp_path, kind, text):
    path = tmp_path / "out.txt"
    path.write_text(text)
    with pytest.raises(CommandError) as caught:
        run("backup", "record", "prod/orders", "--from", kind, str(path))
    assert caught.value.returncode == 2
    assert "Nothing was recorded" in str(caught.value)
    assert not BackupValidation.objects.exists()
    assert Backup.objects.get(pk=orders.pk).max_age_hours == 48


# Hand-written from kopia's documented output (kopia snapshot verify; snapshot list --json).
KOPIA_OK = """Listing blobs...
Listed 51 blobs.
Processed 0 objects.
Finished processing 1005 objects.
"""
KOPIA_BAD = """Processed 500 objects.
ERROR failed on orders@2027-03-01 02:00:00 UTC/dump.sql: error verifying k1234: blob not found
Finished processing 1005 objects.
"""
KOPIA_LIST = json.dumps([
    {"id": "a1", "startTime": "2027-03-01T02:00:00.123456789Z",
     "endTime": "2027-03-01T02:03:10.5Z", "stats": {"totalSize": 52428800}},
    {"id": "a0", "startTime": "2027-02-28T02:00:00Z", "endTime": "2027-02-28T02:03:00Z",
     "stats": {"totalSize": 1}},
])  # fmt: skip
# Hand-written from velero's Restore resource (velero restore get -o json).
VELERO = {
    "apiVersion": "velero.io/v1", "kind": "Restore",
    "metadata": {"name": "orders-restore-test", "creationTimestamp": "2027-03-01T06:00:00Z"},
    "spec": {"backupName": "daily-20270301020000"},
    "status": {"phase": "Completed", "startTimestamp": "2027-03-01T06:00:00Z",
               "completionTimestamp": "2027-03-01T06:04:30Z", "errors": 0, "warnings": 2,
               "progress": {"totalItems": 40, "itemsRestored": 40}},
}  # fmt: skip


def test_it_reads_kopia_verify_and_the_snapshot_list():
    facts = evidence.parse("kopia-verify", [KOPIA_OK, KOPIA_LIST])
    assert facts.worked and facts.details["objects"] == 1005
    assert facts.snapshot_at == datetime(2027, 3, 1, 2, 3, 10, 500000, tzinfo=UTC)
    assert facts.snapshot_bytes == 52428800
    bad = evidence.parse("kopia-verify", [KOPIA_BAD, KOPIA_LIST])
    assert not bad.worked and "blob not found" in bad.problems[0]


def test_it_reads_a_velero_restore():
    facts = evidence.parse("velero-restore", [json.dumps(VELERO)])
    assert facts.worked and facts.duration_seconds == 270
    assert facts.snapshot_at == datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    partial = {**VELERO, "status": {**VELERO["status"], "phase": "PartiallyFailed", "errors": 3}}
    listed = {"kind": "RestoreList", "items": [{k: v for k, v in partial.items() if k != "kind"}]}
    assert not evidence.parse("velero-restore", [json.dumps(listed)]).worked


@pytest.mark.django_db
def test_a_worked_velero_restore_of_an_old_backup_fails(orders, tmp_path):
    path = tmp_path / "restore.json"
    path.write_text(json.dumps(VELERO))
    with time_machine.travel(datetime(2027, 3, 4, 12, 0, tzinfo=UTC), tick=False):
        run("backup", "record", "prod/orders", "--from", "velero-restore", str(path))
    validation = BackupValidation.objects.get(backup=orders)
    assert validation.outcome == "failed" and validation.duration_seconds == 270
    assert "more than the 48 h" in validation.evidence
