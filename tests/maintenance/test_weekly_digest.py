"""The weekly digest against a real SMTP server: one email per user per ISO week at their
local Monday 08:00 (across a DST change), not before, opt-out respected, only to users who may
see clusters, once also when runs are concurrent."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection

from accounts.models import Profile
from clusters.models import Recipient
from dashboard import digest
from maintenance.services import outbox
from maintenance.services import windows as window_services
from readiness.models import CheckResult, Evaluation, FailureChange
from readiness.services import evaluations_prune

# Europe/Berlin leaves CET for CEST on Sunday 2027-03-28.
MON_CET = datetime(2027, 3, 22, 7, 0, tzinfo=UTC)  # 08:00 local
MON_CEST = datetime(2027, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 local


def evaluation(cluster, at, score, grade, critical=(), resolved=()):
    """An evaluation failing CRITICAL ((rule, service) pairs), with the FailureChange rows an
    evaluation run writes: CRITICAL appeared, RESOLVED gone."""
    row = Evaluation.objects.create(
        cluster=cluster, environment="production", snapshot_at=at, evaluated_at=at,
        score=score, grade=grade,
    )  # fmt: skip
    for rule, name in critical:
        CheckResult.objects.create(
            evaluation=row, rule=rule, category="security", severity="critical", status="fail",
            object_type="service", object_name=name, message=f"{rule} fails on {name}",
        )  # fmt: skip
    for appeared, pairs in ((True, critical), (False, resolved)):
        for rule, name in pairs:
            FailureChange.objects.create(
                cluster=cluster, at=at, appeared=appeared, rule=rule, severity="critical",
                object_type="service", object_name=name,
                message=f"{rule} fails on {name}" if appeared else "",
            )  # fmt: skip
    return row


@pytest.fixture
def berliner(viewer):
    viewer.email = "vera@example.org"
    viewer.save()
    Profile.objects.create(user=viewer, time_zone="Europe/Berlin")
    return viewer


def run(now):
    digest.digests_enqueue(now=now)
    outbox.reminders_send_due(now=now)


def digests(smtp):
    return [m for m in smtp.handler.messages if m["X-Watchkeeper-Kind"] == "weekly_digest"]


def text(message) -> str:
    return message.get_payload(decode=True).decode().replace("\r\n", "\n")


@pytest.mark.django_db
def test_it_sends_at_local_monday_0800_across_dst_once_a_week(cluster, berliner, smtp):
    for now, expected in [
        (MON_CET - timedelta(minutes=1), 0),  # not before
        (MON_CET, 1),
        (MON_CET + timedelta(minutes=30), 1),
        (MON_CET + timedelta(days=3), 1),
        (MON_CEST - timedelta(minutes=1), 1),  # 07:59 CEST: the UTC hour of last week's
        (MON_CEST, 2),
        (MON_CEST + timedelta(hours=1), 2),
    ]:
        run(now)
        assert len(digests(smtp)) == expected, now
    first, second = digests(smtp)
    assert first["Subject"] == "Watchkeeper weekly digest 2027-W12"
    assert second["Subject"] == "Watchkeeper weekly digest 2027-W13"
    assert first["To"] == "vera@example.org"
    assert first["Message-ID"] != second["Message-ID"]


@pytest.mark.django_db
def test_it_tells_scores_findings_windows_backups_and_steps(cluster, berliner, smtp):
    evaluation(cluster, MON_CEST - timedelta(days=8), 80, "B", [("sec.root", "web")])
    evaluation(
        cluster,
        MON_CEST - timedelta(hours=2),
        70,
        "C",
        [("sec.secret", "db")],
        [("sec.root", "web")],
    )
    evaluations_prune(now=MON_CEST)  # thinning and dropped checks change nothing it tells
    window_services.window_create(
        cluster=cluster, weekdays="wed", start_time=time(3, 0), duration_minutes=60,
        tz="Europe/Berlin", now=MON_CEST - timedelta(days=1), name="wednesday",
    )  # fmt: skip
    run(MON_CEST)
    body = text(digests(smtp)[0])
    assert "times in Europe/Berlin" in body
    assert "- prod: 70 C (-10 from 80 B)" in body
    assert "new critical: sec.secret on service db: sec.secret fails on db" in body
    assert "resolved critical: sec.root on service web" in body
    assert "- Wed 2027-03-31 03:00: prod wednesday, 60 min" in body
    assert "Backup-restore tests overdue:\n- none" in body


@pytest.mark.django_db
def test_opted_out_roleless_and_address_only_recipients_get_none(
    cluster, berliner, nobody, operator, smtp
):
    nobody.email = "nemo@example.org"
    nobody.save()
    operator.email = "otto@example.org"
    operator.save()
    Profile.objects.create(user=operator, digest_enabled=False)
    Recipient.objects.create(cluster=cluster, email="ops@example.org")
    run(MON_CET + timedelta(hours=1))  # 08:00 UTC: every zone of these users is due
    assert [m["To"] for m in digests(smtp)] == ["vera@example.org"]


@pytest.mark.django_db
def test_another_weekday_and_time_and_a_late_run_within_a_day(cluster, berliner, smtp):
    Profile.objects.filter(user=berliner).update(
        time_zone="America/Santiago", digest_weekday=6, digest_time=time(23, 30)
    )
    sunday = datetime(2027, 3, 29, 2, 30, tzinfo=UTC)  # Sun 23:30 in Santiago (UTC-3)
    run(sunday - timedelta(minutes=1))
    assert digests(smtp) == []
    run(sunday + timedelta(hours=20))  # late, and already Monday there: still last week's
    assert [m["Subject"] for m in digests(smtp)] == ["Watchkeeper weekly digest 2027-W12"]
    run(sunday + timedelta(days=1, minutes=1))
    assert len(digests(smtp)) == 1


@pytest.mark.django_db
def test_a_scheduler_down_for_more_than_a_day_skips_the_week(cluster, berliner, smtp):
    run(MON_CET + digest.CATCH_UP)
    assert digests(smtp) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_it_once(cluster, berliner, smtp):
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            run(MON_CET)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(digests(smtp)) == 1
    assert max(smtp.handler.message_ids().values()) == 1
