"""RuleCount and CurrentCount (kept by the database's triggers) always equal the checks stored,
and the findings page built from them equals the page counted from the checks themselves,
whatever the filter."""

import threading
import time
from datetime import timedelta
from itertools import product

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from accounts.models import Team
from clusters.models import Cluster
from dashboard import pipeline
from readiness import catalogue, services
from readiness import findings as findings_module
from readiness.checks import severity_rank
from readiness.findings import FindingsFilter, findings, findings_exact
from readiness.models import CheckResult, CurrentCount, Evaluation, RuleCount
from readiness.selectors import check_counts, latest_evaluation_ids

from .factories import NOW, service, snapshot

pytestmark = pytest.mark.django_db
COLUMNS = ("evaluation_id", "rule", "category", "severity", "status")


def stored() -> dict[tuple, int]:
    return {row[:-1]: row[-1] for row in RuleCount.objects.values_list(*COLUMNS, "checks")}


def from_checks() -> dict[tuple, int]:
    rows = (
        CheckResult.objects.filter(status__in=("fail", "waived"))
        .order_by()
        .values_list(*COLUMNS)
        .annotate(n=Count("id"))
    )
    return {row[:-1]: row[-1] for row in rows}


CURRENT_COLUMNS = (
    "cluster_id", "cluster_name", "evaluation_id", "rule", "category", "severity",
    "severity_rank", "failing", "waived", "mixed",
)  # fmt: skip


def current() -> set[tuple]:
    return set(CurrentCount.objects.values_list(*CURRENT_COLUMNS))


def current_from_checks() -> set[tuple]:
    """What CurrentCount must hold: each cluster's latest evaluation's checks, by rule."""
    names = dict(Cluster.objects.values_list("pk", "name"))
    latest = latest_evaluation_ids(cluster_ids=list(names))
    cluster_of = {evaluation_id: cluster_id for cluster_id, evaluation_id in latest.items()}
    rows: dict[tuple, list] = {}
    for evaluation_id, rule, category, severity, status in CheckResult.objects.filter(
        evaluation_id__in=list(cluster_of), status__in=("fail", "waived")
    ).values_list(*COLUMNS):
        row = rows.setdefault((evaluation_id, rule), [set(), 0, 0])
        row[0].add((category, severity))
        row[1 if status == "fail" else 2] += 1
    found = set()
    for (evaluation_id, rule), (kinds, failing, waived) in rows.items():
        severity = min((severity_rank(s), s) for _, s in kinds)[1]
        cluster_id = cluster_of[evaluation_id]
        found.add((
            cluster_id, names[cluster_id], evaluation_id, rule, min(c for c, _ in kinds), severity,
            severity_rank(severity), failing, waived, len(kinds) > 1,
        ))  # fmt: skip
    return found


def scored(name: str, environment: str = "production", team=None) -> Cluster:
    cluster = Cluster.objects.create(
        name=name, url="unix:///var/run/docker.sock", environment=environment,
        team=team or Team.default(),
    )  # fmt: skip
    rescore(cluster, NOW)
    return cluster


def rescore(cluster: Cluster, now) -> None:
    """Score the cluster's services (as a poll or a waiver change does): a new evaluation."""
    services_ = [service("api", image="api:latest"), service("web"), service(f"{cluster.name}-x")]
    pipeline.evaluation_run(cluster=cluster, snapshot=snapshot(services=services_), now=now)


def add_checks(cluster: Cluster, rule: str, count: int, *, severity="", status="fail", at=0):
    """COUNT checks of RULE in the cluster's latest evaluation (object names from AT on)."""
    evaluation = Evaluation.objects.filter(cluster=cluster).first()
    meta = catalogue.get(rule)
    CheckResult.objects.bulk_create(
        CheckResult(
            evaluation=evaluation, rule=rule, category=meta.category,
            severity=severity or meta.severity, status=status, object_type="service",
            object_id=f"id-{i}", object_name=f"obj-{i:04}", message=f"{rule} fails",
        )
        for i in range(at, at + count)
    )  # fmt: skip


def make_fleet(*, mixed: bool) -> list[Cluster]:
    """Varied clusters: every severity, failing and waived, ties between clusters, a second
    team, two environments, old evaluations with checks of their own. MIXED: one cluster's
    checks of a rule in two severities (scoring never does that)."""
    other = Team.objects.create(name="other")
    clusters = [
        scored("alpha"),
        scored("beta", environment="staging"),
        scored("Gamma"),
        scored("delta", team=other),
        scored("epsilon"),
    ]
    alpha, beta, gamma, delta, epsilon = clusters
    add_checks(alpha, "resources.memory-limit", 7)
    add_checks(alpha if mixed else epsilon, "resources.memory-limit", 3, severity="warning", at=100)
    add_checks(beta, "resources.memory-limit", 10, at=200)
    add_checks(gamma, "resources.memory-limit", 10, status="waived", at=300)
    add_checks(delta, "resources.memory-limit", 4, severity="info", at=400)
    add_checks(beta, "images.registry", 5, status="waived")
    add_checks(gamma, "images.registry", 5)
    add_checks(epsilon, "images.registry", 2, status="waived", at=500)
    for index in range(14):  # more clusters than are named, with equal counts
        last = scored(f"c{index:02}")
        add_checks(last, "health.flapping", 2)
    # A rule's highest severity in the newest evaluation: first whatever the evaluation order.
    add_checks(last, "images.registry", 1, severity="critical", at=600)
    # An older evaluation of alpha, with checks the page must not count.
    pipeline.evaluation_run(
        cluster=alpha, snapshot=snapshot(services=[service("old", image="old:latest")]),
        now=NOW - timedelta(hours=1),
    )  # fmt: skip
    return list(Cluster.objects.order_by("name"))


@pytest.fixture
def fleet(operator):
    return make_fleet(mixed=True)


@pytest.fixture
def even_fleet(operator):
    return make_fleet(mixed=False)


def counts_read(queries) -> str:
    """Which stored counts the page's figures come from (the latest evaluations' when it
    read both)."""
    sql = " ".join(q["sql"] for q in queries)
    return "rulecount" if "readiness_rulecount" in sql else "current"


def comparable(result):
    for group in result.groups:
        group.clusters = group.clusters[:12]  # the stored counts name only those
    return result


def test_the_counts_equal_the_checks_after_inserts_deletes_and_updates(fleet):
    assert stored() == from_checks() and len(stored()) > 20
    latest = Evaluation.objects.filter(cluster__name="alpha").first()
    latest.checks.filter(rule="resources.memory-limit", object_name__lt="obj-0004").delete()
    assert stored() == from_checks()
    latest.checks.filter(rule="images.tag-pinned").update(status="waived")
    CheckResult.objects.filter(object_name="obj-0205").update(severity="info")
    assert stored() == from_checks()
    rescore(Cluster.objects.get(name="alpha"), NOW - timedelta(hours=2))
    pruned = services.evaluations_prune(now=NOW + timedelta(days=30))  # the third's checks
    assert pruned["checks"] > 0 and stored() == from_checks()
    Cluster.objects.filter(name="beta").delete()
    assert stored() == from_checks()


def test_the_current_counts_follow_every_write(fleet):
    def alpha_evaluation():
        return set(CurrentCount.objects.filter(cluster_name="alpha").values_list(
            "evaluation_id", flat=True
        ))  # fmt: skip

    assert current() == current_from_checks()
    assert any(row[-1] for row in current()) and len(current()) > 20  # alpha's rule is mixed
    alpha = Cluster.objects.get(name="alpha")
    latest = Evaluation.objects.filter(cluster=alpha).first()
    latest.checks.filter(rule="resources.memory-limit", object_name__lt="obj-0004").delete()
    assert current() == current_from_checks()
    latest.checks.filter(rule="images.tag-pinned").update(status="waived")
    CheckResult.objects.filter(object_name="obj-0205").update(severity="info")
    assert current() == current_from_checks()
    # An evaluation older than the latest (stored late) changes nothing.
    rescore(alpha, NOW - timedelta(hours=2))
    assert current() == current_from_checks() and alpha_evaluation() == {latest.pk}
    # A newer one replaces the cluster's counts; one without failing checks empties them, and
    # deleting it brings the previous one's back.
    rescore(alpha, NOW + timedelta(minutes=5))
    assert current() == current_from_checks() and alpha_evaluation() != {latest.pk}
    passing = Evaluation.objects.create(
        cluster=alpha, environment="production", snapshot_at=NOW, score=100, grade="A",
        evaluated_at=NOW + timedelta(minutes=10),
    )  # fmt: skip
    assert current() == current_from_checks() and alpha_evaluation() == set()
    passing.delete()
    assert current() == current_from_checks() and alpha_evaluation()
    pruned = services.evaluations_prune(now=NOW + timedelta(days=30))
    assert pruned["checks"] > 0 and current() == current_from_checks()
    alpha.name = "alpha-renamed"
    alpha.save()
    assert current() == current_from_checks() and not alpha_evaluation()
    Cluster.objects.filter(name="beta").delete()
    assert current() == current_from_checks()
    assert not CurrentCount.objects.filter(cluster_name="beta").exists()


@pytest.mark.parametrize(
    ("show", "narrow"),
    list(
        product(
            ("open", "waived", "all"),
            [
                {},
                {"severity": "critical"},
                {"severity": "info"},
                {"category": "resources"},
                {"rule": "resources.memory-limit"},
                {"rule": "images.registry", "severity": "warning"},
                {"cluster": "Gamma"},
                {"environment": "staging"},
            ],
        )
    ),
)
@pytest.mark.parametrize(
    ("kind", "few", "read"),
    [
        ("fleet", 50, "rulecount"),  # a few clusters: their latest evaluations' counts
        ("fleet", 0, "mixed"),  # alpha has a rule in two severities: the same, with alpha
        ("even_fleet", 0, "current"),  # many clusters: their current counts
        ("even_fleet", 50, "rulecount"),
    ],
)
def test_the_page_from_the_counts_equals_the_exact_one(
    request, monkeypatch, kind, few, read, show, narrow
):
    clusters = request.getfixturevalue(kind)
    monkeypatch.setattr(findings_module, "FINDINGS_FEW_CLUSTERS", few)
    filters = FindingsFilter(show=show, **narrow)
    if read == "mixed":
        read = "current" if narrow.get("cluster") or narrow.get("environment") else "rulecount"
    # 18 a rule: alpha's and beta's 17 critical resources.memory-limit, then one lower.
    for per_rule, limit in ((50, 250), (3, 7), (1, 2), (12, 30), (18, 40), (0, 10)):
        with CaptureQueriesContext(connection) as queries:
            counted = findings(filters=filters, clusters=clusters, per_rule=per_rule, limit=limit)
        exact = findings_exact(filters=filters, clusters=clusters, per_rule=per_rule, limit=limit)
        assert comparable(counted) == comparable(exact), (per_rule, limit)
        assert counts_read(queries) == read
    if kind == "even_fleet" and not narrow:
        assert len({g.severity for g in counted.groups}) > 1 or show == "waived"
    assert counted.matching > 0 or narrow.get("severity") == "info" and show == "waived"


def test_a_team_sees_the_counts_of_its_own_clusters_only(fleet):
    mine = [c for c in fleet if c.name != "delta"]
    counted = comparable(findings(filters=FindingsFilter(), clusters=mine))
    assert counted == comparable(findings_exact(filters=FindingsFilter(), clusters=mine))
    limits = next(g for g in counted.groups if g.rule == "resources.memory-limit")
    assert "delta" not in {c.cluster for c in limits.clusters}
    assert limits.severity == "critical" and limits.matching == 20  # alpha 10, beta 10


def test_the_counts_follow_a_waiver_and_its_revocation(fleet, operator):
    alpha = Cluster.objects.get(name="alpha")
    failing = findings(filters=FindingsFilter(cluster="alpha"), clusters=fleet)
    assert "images.tag-pinned" in {g.rule for g in failing.groups}
    waiver = services.waiver_create(
        cluster=alpha, rule="images.tag-pinned", reason="tracked", owner=operator,
        expires_at=NOW + timedelta(days=30), created_by=operator, now=NOW,
    )  # fmt: skip
    rescore(alpha, NOW + timedelta(minutes=1))
    for show in ("open", "waived", "all"):
        filters = FindingsFilter(cluster="alpha", show=show)
        assert comparable(findings(filters=filters, clusters=fleet)) == comparable(
            findings_exact(filters=filters, clusters=fleet)
        )
    waived = findings(filters=FindingsFilter(cluster="alpha", show="waived"), clusters=fleet)
    assert [g.rule for g in waived.groups] == ["images.tag-pinned"]
    services.waiver_revoke(waiver=waiver, by=operator, now=NOW + timedelta(minutes=2))
    rescore(alpha, NOW + timedelta(minutes=2))
    after = findings(filters=FindingsFilter(cluster="alpha", show="waived"), clusters=fleet)
    assert after.groups == [] and after.hidden_waived == 0
    assert stored() == from_checks() and current() == current_from_checks()


def test_an_object_name_search_counts_the_checks_themselves(fleet):
    filters = FindingsFilter(q="OBJ-02")
    with CaptureQueriesContext(connection) as queries:
        result = findings(filters=filters, clusters=fleet)
    assert len(queries) == 3  # latest evaluations, counts, numbered ids + rows
    assert "readiness_rulecount" not in " ".join(q["sql"] for q in queries)
    assert result == findings_exact(filters=filters, clusters=fleet)
    assert result.matching == 10
    assert {r.cluster for g in result.groups for r in g.rows} == {"beta"}


def test_without_a_search_the_page_reads_no_more_checks_than_it_shows(fleet):
    with CaptureQueriesContext(connection) as queries:
        result = findings(filters=FindingsFilter(), clusters=fleet, per_rule=2, limit=5)
    assert len(queries) == 3  # latest evaluations, stored counts, rows
    counts, rows = queries[1]["sql"], queries[2]["sql"]
    assert "readiness_rulecount" in counts and "readiness_checkresult" not in counts
    assert "LATERAL" in rows and result.shown == 5


def test_the_cluster_pages_check_counts_add_the_unscored_checks(fleet):
    alpha = Cluster.objects.get(name="alpha")
    add_checks(alpha, "health.converged", 2, status="pending", at=500)
    add_checks(alpha, "images.registry", 3, status="not_evaluated", at=600)
    add_checks(alpha, "images.registry", 1, status="waived", at=700)
    evaluation = Evaluation.objects.filter(cluster=alpha).first()
    columns = ("rule", "category", "severity", "status")
    exact = list(evaluation.checks.values_list(*columns).annotate(n=Count("id")).order_by(*columns))
    counts = check_counts(evaluation=evaluation)
    assert counts == exact
    assert {status for *_, status, _ in counts} == {"fail", "waived", "pending", "not_evaluated"}


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_of_a_cluster_at_once_leave_the_latest_counts():
    """A poll and a waiver's re-score of one cluster in two transactions: the second waits for
    the first's counts and counts again once it commits (without that, it inserted the rows
    the first had just committed: a unique violation)."""
    alpha = scored("alpha")
    add_checks(alpha, "resources.memory-limit", 2)
    newer_in, waiting, errors = threading.Event(), threading.Event(), []

    def newer():
        with transaction.atomic():
            rescore(alpha, NOW + timedelta(minutes=2))
            newer_in.set()
            waiting.wait(timeout=30)
        connection.close()

    def older():
        newer_in.wait(timeout=30)
        try:
            rescore(alpha, NOW + timedelta(minutes=1))
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(error)
        connection.close()

    threads = [threading.Thread(target=newer), threading.Thread(target=older)]
    for thread in threads:
        thread.start()
    assert newer_in.wait(timeout=30)
    with connection.cursor() as cursor:  # the older evaluation waits on the newer's lock
        for _ in range(3000):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.01)
    waiting.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert current() == current_from_checks()
    newest = Evaluation.objects.filter(cluster=alpha).first()
    assert {row[2] for row in current()} == {newest.pk}
