"""The score formula, category scores, grades, the critical cap, environments and waivers."""

import math

import pytest

from readiness import catalogue
from readiness.checks import Check, Obj
from readiness.engine import WaiverSpec, apply_waivers, evaluate, run_rules
from readiness.policy import Policy
from readiness.scoring import grade_of, score_checks

from .factories import MIB, context, facts, service, snapshot


def make(rule, status, severity="warning", category=None, name="web", labels=None):
    return Check(
        rule=rule,
        category=category or rule.split(".")[0],
        severity=severity,
        status=status,
        object=Obj("service", f"id-{name}", name, labels or {}),
        message="m",
        remediation="r",
    )


def test_it_counts_each_rule_once_whatever_the_number_of_objects():
    checks = [
        make("images.tag-pinned", "pass", "critical", name="a"),
        make("images.tag-pinned", "fail", "critical", name="b"),
        make("images.tag-pinned", "pass", "critical", name="c"),
        make("images.tag-pinned", "pass", "critical", name="d"),
        make("health.healthcheck", "fail", "warning"),
    ]
    score = score_checks(checks)
    # (3 * 3/4 + 1 * 0) / 4 = 0.5625
    assert score.score == 56
    assert score.categories == {
        "images": {"score": 75, "rules": 1},
        "health": {"score": 0, "rules": 1},
    }


def test_it_leaves_info_rules_and_waived_checks_out_of_the_score():
    checks = [
        make("resources.cpu-limit", "fail", "info"),
        make("health.healthcheck", "pass", "warning"),
        make("health.flapping", "waived", "warning"),
        make("operations.notifications", "not_evaluated", "warning", category="operations"),
    ]
    assert score_checks(checks).score == 100


def test_it_scores_100_when_nothing_is_scored():
    score = score_checks([], ["images"])
    assert (score.score, score.grade, score.categories) == (
        100,
        "A",
        {"images": {"score": 100, "rules": 0}},
    )


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100, "A"),
        (90, "A"),
        (89, "B"),
        (80, "B"),
        (79, "C"),
        (70, "C"),
        (69, "D"),
        (60, "D"),
        (59, "F"),
        (0, "F"),
    ],
)
def test_it_grades(score, grade):
    assert grade_of(score) == grade


def test_it_caps_grade_at_c_with_a_failing_critical():
    checks = [make(f"images.rule{i}", "pass") for i in range(40)]
    checks.append(make("images.tag-pinned", "pass", "critical", name="a"))
    checks.append(make("images.tag-pinned", "fail", "critical", name="b"))
    score = score_checks(checks)
    assert score.score >= 90
    assert (score.grade, score.grade_capped) == ("C", True)


def test_it_does_not_cap_when_the_critical_failure_is_waived():
    checks = [make("health.healthcheck", "pass"), make("images.tag-pinned", "waived", "critical")]
    score = score_checks(checks)
    assert (score.score, score.grade, score.grade_capped) == (100, "A", False)


def test_it_floors_the_score():
    checks = [make("a.x", "pass"), make("a.y", "pass"), make("a.z", "fail")]
    assert score_checks(checks).score == math.floor(100 * 2 / 3) == 66


def bad_service():
    return service("web", memory_limit=None, image="app:latest", replicas=1)


def test_it_lowers_topology_and_sizing_one_step_in_staging():
    from .factories import node

    snap = snapshot(nodes=[node("m1", "manager", cpus=1, memory_bytes=MIB)])
    checks = run_rules(snap, Policy(), context(environment="staging"))
    by_rule = {c.rule: c.severity for c in checks}
    assert by_rule["topology.multi-node"] == "warning"
    assert by_rule["sizing.manager-tier"] == "warning"
    assert by_rule["topology.manager-count"] == "info"
    assert by_rule["security.autolock"] == "warning"


def test_it_scores_only_security_and_config_in_development():
    snap = snapshot(services=[bad_service()])
    report = evaluate(snap, Policy(), context(environment="development"))
    scored = {r.category for r in report.score.rules if r.weight}
    assert scored <= {"security", "config"}
    assert not report.score.grade_capped  # images.tag-pinned is info there
    prod = evaluate(snap, Policy(), context())
    assert prod.score.grade_capped


def test_it_matches_waivers_by_glob_label_or_everything():
    checks = [
        make("images.tag-pinned", "fail", "critical", name="web-1"),
        make("images.tag-pinned", "fail", "critical", name="api", labels={"team": "blue"}),
        make("images.tag-pinned", "pass", "critical", name="db"),
        make("health.healthcheck", "fail", name="web-1"),
    ]
    by_glob = apply_waivers(checks, [WaiverSpec(1, "images.tag-pinned", "web-*")])
    assert [c.status for c in by_glob] == ["waived", "fail", "pass", "fail"]
    assert by_glob[0].waiver_id == 1
    by_label = apply_waivers(checks, [WaiverSpec(2, "images.tag-pinned", "team=blue")])
    assert [c.status for c in by_label] == ["fail", "waived", "pass", "fail"]
    everything = apply_waivers(checks, [WaiverSpec(3, "images.tag-pinned")])
    assert [c.status for c in everything] == ["waived", "waived", "waived", "fail"]


def test_it_removes_waived_checks_from_the_score():
    snap = snapshot(services=[service("web"), service("api", memory_limit=None)])
    before = evaluate(snap, Policy(), context(operations=facts()))
    after = evaluate(
        snap,
        Policy(),
        context(operations=facts()),
        waivers=[WaiverSpec(9, "resources.memory-limit", "api")],
    )
    assert before.score.grade_capped and not after.score.grade_capped
    assert after.summary["waived"] == 1
    assert after.score.score > before.score.score


def test_it_reports_operations_as_not_evaluated_without_facts():
    report = evaluate(snapshot(), Policy(), context(operations=None))
    statuses = {c.rule: c.status for c in report.checks if c.category == "operations"}
    assert statuses["operations.notifications"] == "not_evaluated"
    assert "operations.notifications" not in {r.rule for r in report.score.rules}
    assert set(report.summary) == {"critical", "warning", "info", "waived", "passed"}


def test_it_evaluates_a_compliant_cluster_to_a_clean_a():
    from .factories import node, task

    web = service("web")
    nodes = [
        node("m1", "manager", leader=True),
        node("m2", "manager"),
        node("m3", "manager"),
        node("w1"),
        node("w2"),
    ]
    snap = snapshot(nodes=nodes, services=[web], tasks=[task(web), task(web, "id-w2")])
    ops = facts(last_reboot={n.id: snap.taken_at for n in nodes})
    report = evaluate(snap, Policy(), context(operations=ops))
    failing = [(c.rule, c.object.name) for c in report.checks if c.status == "fail"]
    assert failing == []
    assert (report.score.score, report.score.grade) == (100, "A")
    not_applicable = set(catalogue.rule_ids()) - {c.rule for c in report.checks}
    assert not_applicable == {
        "topology.control-plane-isolated",  # fewer than 6 nodes
        "manager-load.unbounded-on-manager",  # nothing runs on managers
        "config.stateful-pinned",  # no local volume
        "security.overlay-encrypted",  # no overlay network
        "manager-load.ingress-ports",  # no published port
        "rollout.host-port-placement",  # no host-mode port
        "security.join-token-rotation",  # /swarm not read by the factory's snapshot
    }


@pytest.mark.parametrize("environment", ["production", "staging", "development"])
def test_it_scores_the_same_when_passes_are_only_counted(environment):
    snap = snapshot(
        services=[service("web"), service("api", memory_limit=None), bad_service()],
    )
    waivers = [
        WaiverSpec(9, "resources.memory-limit", "api"),  # waives a failure
        WaiverSpec(8, "images.tag-pinned", "api"),  # waives a pass
    ]
    ctx = context(environment=environment, operations=facts())
    full = evaluate(snap, Policy(), ctx, waivers=waivers)
    compact = evaluate(snap, Policy(), ctx, waivers=waivers, keep_passes=False)
    assert compact.checks == [c for c in full.checks if c.status != "pass"]
    assert compact.score == full.score
    assert compact.summary == full.summary and full.summary["passed"] > 20
    assert compact.summary["waived"] == 2
    assert [r.rule for r in compact.score.rules] == [r.rule for r in full.score.rules]
    assert full.counted_passes == {}


def test_it_waives_node_checks_by_node_label():
    from .factories import node

    nodes = [
        node("m1", "manager", leader=True),
        node("w1", cpus=1, labels={"pool": "legacy"}),
        node("w2", cpus=1),
    ]
    waiver = WaiverSpec(4, "sizing.worker-tier", "pool=legacy")
    report = evaluate(snapshot(nodes=nodes), Policy(), context(), waivers=[waiver])
    statuses = {c.object.name: c.status for c in report.checks if c.rule == "sizing.worker-tier"}
    assert statuses == {"w1": "waived", "w2": "fail"}
