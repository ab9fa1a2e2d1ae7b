"""Evaluations stored per poll, their diff, notifications, waivers, policies, the report command."""

import json
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters.models import Cluster
from dashboard import pipeline
from maintenance import selectors as maintenance_selectors
from readiness import selectors, services
from readiness.models import CheckResult, Evaluation, FailureChange, WaiverEvent

from .factories import NOW, facts, service, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="lab", url="unix:///var/run/docker.sock")


@pytest.fixture
def notify():
    """Every notification as one call of the mock, whether enqueued alone or in a batch."""

    def each(*, cluster, notifications, now):
        for item in notifications:
            patched(
                cluster=cluster,
                kind=item.kind,
                subject_key=item.subject_key,
                title=item.title,
                body=item.body,
                now=now,
            )
        return len(notifications)

    with (
        mock.patch(
            "maintenance.services.reminders.notification_enqueue", return_value=1
        ) as patched,
        mock.patch("maintenance.services.reminders.notifications_enqueue", side_effect=each),
    ):
        yield patched


@pytest.fixture(autouse=True)
def operations():
    with mock.patch("maintenance.selectors.operations_facts", return_value=facts()):
        yield


def good():
    return snapshot(services=[service("web")])


def bad():
    return snapshot(services=[service("web"), service("api", image="api:latest")])


def test_it_stores_checks_score_and_categories(cluster, notify):
    evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=good(), now=NOW)
    # Every scored check is counted in the score's explanation; passes are only counted,
    # the other checks (fail, waived, not evaluated) are stored as rows.
    assert sum(r["passed"] + r["failed"] for r in evaluation.rules) > 40
    assert evaluation.summary["passed"] == sum(r["passed"] for r in evaluation.rules)
    fresh = selectors.report_for_cluster(
        cluster=cluster,
        snapshot=good(),
        now=NOW,
        operations=maintenance_selectors.operations_facts(cluster=cluster, now=NOW),
    )
    assert sorted(
        evaluation.checks.values_list("rule", "object_type", "object_name", "status", "message")
    ) == sorted(
        (c.rule, c.object.type, c.object.name, c.status, c.message)
        for c in fresh.checks
        if c.status != "pass"
    )
    assert evaluation.checks.exists() and not evaluation.checks.filter(status="pass").exists()
    assert evaluation.categories["images"] == {"score": 100, "rules": 3}
    assert evaluation.summary["critical"] == 0
    assert selectors.latest_evaluation(cluster=cluster) == evaluation
    assert not notify.called


def test_it_stores_failing_checks_text_verbatim(cluster, notify):
    odd = "api\\x\t\\N\r\nend"
    broken = snapshot(services=[service(odd, image="api:latest")])
    evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=broken, now=NOW)
    stored = evaluation.checks.get(rule="images.tag-pinned")
    assert stored.object_name == odd and odd in stored.message and odd in stored.remediation
    assert stored.object_id == f"id-{odd}" and stored.waiver is None


def test_it_records_new_and_resolved_failures_and_notifies(cluster, notify):
    pipeline.evaluation_run(cluster=cluster, snapshot=good(), now=NOW)
    second = pipeline.evaluation_run(
        cluster=cluster, snapshot=bad(), now=NOW + timedelta(minutes=1)
    )
    assert ["images.tag-pinned", "service", "api"] in second.new_failures
    assert second.grade == "C" and second.grade_capped
    kinds = [call.kwargs["kind"] for call in notify.call_args_list]
    assert kinds.count("critical_finding") == 1 and kinds.count("grade_drop") == 1
    third = pipeline.evaluation_run(
        cluster=cluster, snapshot=good(), now=NOW + timedelta(minutes=2)
    )
    assert ["images.tag-pinned", "service", "api"] in third.resolved_failures
    assert third.new_failures == []
    history = selectors.score_history(cluster=cluster, since=NOW - timedelta(days=1))
    assert [h["grade"] for h in history] == ["A", "C", "A"]


def test_it_finds_the_latest_evaluations_without_n_plus_one(
    cluster, notify, django_assert_num_queries
):
    other = Cluster.objects.create(name="other", url="ssh://ops@host")
    for c in (cluster, other):
        pipeline.evaluation_run(cluster=c, snapshot=bad(), now=NOW)
    with django_assert_num_queries(2):
        latest = selectors.evaluations_for_clusters(clusters=[cluster, other])
    assert set(latest) == {cluster.id, other.id}
    assert all(
        evaluation.checks.filter(status="fail", rule="images.tag-pinned").exists()
        for evaluation in latest.values()
    )


def test_it_waives_until_expiry_then_notifies_the_owner(cluster, notify, operator):
    waiver = services.waiver_create(
        cluster=cluster,
        rule="images.tag-pinned",
        selector="api",
        reason="vendor image, pinned next sprint",
        owner=operator,
        expires_at=NOW + timedelta(days=7),
        created_by=operator,
        now=NOW,
    )
    waived = pipeline.evaluation_run(cluster=cluster, snapshot=bad(), now=NOW)
    assert waived.summary["waived"] == 1 and not waived.grade_capped
    assert CheckResult.objects.get(evaluation=waived, status="waived").waiver == waiver

    later = NOW + timedelta(days=8)
    with time_machine.travel(later, tick=False):
        assert pipeline.waivers_expire(now=later) == 1
        assert pipeline.waivers_expire(now=later) == 0
    assert notify.call_args.kwargs["kind"] == "waiver_expired"
    assert "otto" in notify.call_args.kwargs["body"]
    expired = pipeline.evaluation_run(cluster=cluster, snapshot=bad(), now=later)
    assert expired.summary["waived"] == 0 and expired.grade_capped
    assert list(WaiverEvent.objects.values_list("action", flat=True)) == ["created", "expired"]


def test_it_revokes_with_an_audit_trail(cluster, operator):
    waiver = services.waiver_create(
        cluster=cluster,
        rule="rollout.replicas",
        reason="singleton",
        owner=operator,
        expires_at=NOW + timedelta(days=1),
        created_by=operator,
        now=NOW,
    )
    services.waiver_revoke(waiver=waiver, by=operator, now=NOW + timedelta(hours=1))
    assert selectors.active_waivers(cluster=cluster, now=NOW + timedelta(hours=2)) == []
    trail = waiver.events.select_related("actor")
    assert [(e.action, e.actor) for e in trail] == [("created", operator), ("revoked", operator)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"expires_at": NOW + timedelta(days=181)}, "expires_at"),
        ({"expires_at": NOW - timedelta(minutes=1)}, "expires_at"),
        ({"rule": "images.nope"}, "rule"),
        ({"selector": "team="}, "selector"),
    ],
)
def test_it_validates_waivers(cluster, operator, changes, field):
    data = dict(
        cluster=cluster,
        rule="rollout.replicas",
        reason="ok",
        owner=operator,
        expires_at=NOW + timedelta(days=1),
        created_by=operator,
        now=NOW,
    )
    with pytest.raises(ValidationError) as error:
        services.waiver_create(**{**data, **changes})
    assert field in error.value.message_dict


def test_it_lets_only_operators_create_waivers(cluster, viewer):
    with pytest.raises(PermissionDenied):
        services.waiver_create(
            cluster=cluster,
            rule="rollout.replicas",
            reason="x",
            owner=viewer,
            expires_at=NOW + timedelta(days=1),
            created_by=viewer,
            now=NOW,
        )


def test_it_validates_and_applies_policies(cluster, admin_user, notify):
    with pytest.raises(ValidationError) as error:
        services.policy_update(
            cluster=cluster, data={"backup_interval_days": 120, "bogus": 1}, by=admin_user, now=NOW
        )
    assert set(error.value.message_dict) == {"backup_interval_days", "bogus"}
    services.policy_update(cluster=cluster, data={"memory_floor_mib": 1024}, by=admin_user, now=NOW)
    assert selectors.cluster_policy(cluster=cluster).memory_floor_mib == 1024
    evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=good(), now=NOW)
    assert evaluation.checks.get(rule="resources.memory-floor").status == "fail"


def test_it_reports_a_cluster_and_exits_by_contract(cluster, capsys):
    with mock.patch("clusters.selectors.latest_snapshot", return_value=bad()):
        with pytest.raises(SystemExit) as exit_info:
            call_command("readiness", "report", "lab", "--format", "json", "--fail-on-critical")
        assert exit_info.value.code == 3
        report = json.loads(capsys.readouterr().out)
        assert report["cluster"] == "lab" and report["environment"] == "production"
        assert report["snapshot_at"] == "2026-11-22T10:00:00Z"
        assert report["grade"] == "C" and report["grade_capped"]
        call_command("readiness", "report", "lab", "--format", "json", "--fail-below", "50")
        assert Evaluation.objects.count() == 0  # a report does not store anything


def test_it_says_when_there_is_no_snapshot(cluster):
    with pytest.raises(CommandError, match="no snapshot yet, run `manage.py cluster poll lab`"):
        call_command("readiness", "report", "lab")
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("readiness", "report", "nope")


def test_an_expired_waiver_reaches_its_owner_and_the_recipients(cluster, operator):
    from clusters.models import Recipient
    from maintenance.models import Reminder

    Recipient.objects.create(cluster=cluster, email="oncall@example.org")
    operator.email = "otto@example.org"
    operator.save()
    services.waiver_create(
        cluster=cluster,
        rule="images.tag-pinned",
        reason="vendor image",
        owner=operator,
        expires_at=NOW + timedelta(days=1),
        created_by=operator,
        now=NOW,
    )
    later = NOW + timedelta(days=2)
    assert pipeline.waivers_expire(now=later) == 1
    rows = Reminder.objects.filter(kind="waiver_expired")
    assert sorted(rows.values_list("recipient", flat=True)) == [
        "oncall@example.org",
        "otto@example.org",
    ]


def test_it_thins_old_evaluations_and_keeps_the_checks_the_next_diff_needs(cluster, notify):
    from django.conf import settings

    days_ago = [10, 10, 3, 2.5]
    stored = []
    for index, age in enumerate(days_ago):
        at = NOW - timedelta(days=age) + timedelta(minutes=index)
        stored.append(pipeline.evaluation_run(cluster=cluster, snapshot=bad(), now=at))
    assert all(e.checks.exists() for e in stored)

    result = services.evaluations_prune(now=NOW)

    assert settings.WATCHKEEPER_DETAIL_HOURS == 48
    remaining = set(Evaluation.objects.values_list("pk", flat=True))
    # day -10 keeps its first evaluation; the others are the latest two (kept whole)
    assert remaining == {stored[0].pk, stored[2].pk, stored[3].pk}
    assert result["evaluations"] == 1
    assert not CheckResult.objects.filter(evaluation=stored[0]).exists()
    assert CheckResult.objects.filter(evaluation=stored[2]).exists()
    assert CheckResult.objects.filter(evaluation=stored[3]).exists()


def test_it_stores_the_checks_with_one_logged_copy(cluster, notify):
    with CaptureQueriesContext(connection) as queries:
        evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=bad(), now=NOW)
    copies = [q["sql"].split()[1] for q in queries.captured_queries if q["sql"].startswith("COPY ")]
    assert copies == ["readiness_checkresult", "readiness_failurechange"]  # the first: all new
    failing = evaluation.checks.filter(status="fail").count()
    assert failing == FailureChange.objects.filter(appeared=True).count() > 0


def test_checks_beyond_one_copy_chunk_are_all_stored_as_reported(cluster, notify):
    many = snapshot(services=[service(f"api-{i}", image="api:latest") for i in range(300)])
    evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=many, now=NOW)
    fresh = selectors.report_for_cluster(
        cluster=cluster,
        snapshot=many,
        now=NOW,
        operations=maintenance_selectors.operations_facts(cluster=cluster, now=NOW),
    )
    expected = [c for c in fresh.checks if c.status != "pass"]
    assert sum(len(services._copy_line(1, c)) for c in expected) > 2 * services._COPY_CHUNK
    stored = evaluation.checks.values_list("rule", "object_name", "message", "remediation")
    assert sorted(stored) == sorted(
        (c.rule, c.object.name, c.message, c.remediation) for c in expected
    )


def test_the_copy_text_reads_in_chunks_as_one_text():
    lines = [f"line {i}\t" + "x" * (i % 7) + "\n" for i in range(1_000)]
    reader = services._CopyLines(iter(lines))
    chunks = []
    while chunk := reader.read(100):
        assert len(chunk) <= 100
        chunks.append(chunk)
    assert "".join(chunks) == "".join(lines) and reader.read() == ""
    assert services._CopyLines(iter(lines)).read() == "".join(lines)


def test_it_stores_names_with_tabs_newlines_and_backslashes_exactly(cluster, notify):
    name = "api\tv2\nC:\\path\\N\r"
    snap = snapshot(services=[service("web"), service(name, image="api:latest")])
    evaluation = pipeline.evaluation_run(cluster=cluster, snapshot=snap, now=NOW)
    stored = evaluation.checks.filter(object_type="service", object_id=f"id-{name}")
    assert stored.exists()
    assert set(stored.values_list("object_name", flat=True)) == {name}
    fresh = selectors.report_for_cluster(
        cluster=cluster,
        snapshot=snap,
        now=NOW,
        operations=maintenance_selectors.operations_facts(cluster=cluster, now=NOW),
    )
    assert sorted(stored.values_list("rule", "message", "remediation")) == sorted(
        (c.rule, c.message, c.remediation)
        for c in fresh.checks
        if c.status != "pass" and c.object.name == name
    )


def report_json(capsys, *args):
    call_command("readiness", "report", "lab", "--format", "json", *args)
    return json.loads(capsys.readouterr().out)


def test_it_exits_4_only_below_the_threshold_and_0_without_flags(cluster, capsys):
    with mock.patch("clusters.selectors.latest_snapshot", return_value=bad()):
        report = report_json(capsys)  # a critical check fails: still 0 without --fail-on-critical
        assert report["summary"]["critical"] == 1
        report_json(capsys, "--fail-below", str(report["score"]))
        with pytest.raises(SystemExit) as exit_info:
            report_json(capsys, "--fail-below", str(report["score"] + 1))
        assert exit_info.value.code == 4


def test_it_writes_the_json_fields_of_the_contract_in_its_order(cluster, capsys):
    with mock.patch("clusters.selectors.latest_snapshot", return_value=bad()):
        report = report_json(capsys)
    assert list(report)[:10] == [
        "cluster", "environment", "snapshot_at", "evaluated_at", "score", "grade",
        "grade_capped", "categories", "summary", "checks",
    ]  # fmt: skip
    assert isinstance(report["score"], int) and isinstance(report["grade_capped"], bool)
    assert list(report["summary"]) == ["critical", "warning", "info", "waived", "passed"]
    assert all(list(c) == ["score", "rules"] for c in report["categories"].values())
    assert list(report["categories"])[:3] == ["topology", "sizing", "manager-load"]
    for check in report["checks"]:
        assert list(check) == [
            "rule", "category", "severity", "status", "object", "message", "remediation",
        ]  # fmt: skip
        assert list(check["object"]) == ["type", "id", "name"]
    # not_evaluated: services without a health check whose image was not inspected (unknown)
    assert {c["status"] for c in report["checks"]} <= {"pass", "fail", "not_evaluated"}
    report["checks"] = [c for c in report["checks"] if c["status"] != "not_evaluated"]
    assert len(report["checks"]) == report["summary"]["passed"] + sum(
        report["summary"][severity] for severity in ("critical", "warning", "info")
    )


def test_it_keeps_only_failures_with_the_full_summary_and_score(cluster, capsys):
    with mock.patch("clusters.selectors.latest_snapshot", return_value=bad()):
        full = report_json(capsys)
        failed = report_json(capsys, "--only-failed")
    assert [c for c in full["checks"] if c["status"] == "fail"] == failed["checks"]
    assert {c["status"] for c in failed["checks"]} == {"fail"}
    del full["checks"], failed["checks"], full["evaluated_at"], failed["evaluated_at"]
    assert failed == full


def test_one_evaluation_of_a_cluster_is_stored_at_a_time(cluster, notify):
    """Until the transaction storing an evaluation ends, another evaluation of the cluster
    waits (its FailureChange rows must follow this one's: readiness.changes)."""
    import psycopg2  # deferred: a second session, outside the test's transaction

    other = Cluster.objects.create(name="other", url="unix:///run/other.sock")
    pipeline.evaluation_run(cluster=cluster, snapshot=bad(), now=NOW)  # in the test's transaction
    second = psycopg2.connect(**connection.get_connection_params())
    second.autocommit = True
    try:
        with second.cursor() as cursor:
            held = []
            for pk in (cluster.pk, other.pk):
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, %s)", [services.EVALUATION_LOCK, pk]
                )
                held.append(not cursor.fetchone()[0])
    finally:
        second.close()
    assert held == [True, False]
