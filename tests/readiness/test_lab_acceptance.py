"""Acceptance of readiness against the Swarm lab (issue 5, "Done when").

The lab is registered and polled through the real code path (clusters.registration.cluster_add,
dashboard.pipeline.cluster_poll -> readiness.services.evaluation_run). One compliant service
and a set of deliberately misconfigured ones; each must fail exactly the rules it breaks.
"""

import json
import math
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.utils import timezone

from clusters import registration
from clusters import selectors as cluster_selectors
from clusters.models import Cluster
from dashboard import pipeline
from lab import DEFAULT_IMAGE, ServiceSpec
from maintenance import selectors as maintenance_selectors
from readiness import selectors, services
from readiness.models import Evaluation

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

MIB = 1024 * 1024
PREFIX = "acc-"
# "Compliant" = every service-level rule that CAN pass in the lab passes. One cannot:
# images.digest-pinned (warning) wants `@sha256:` in the spec image, but the lab has no
# registry: its image is imported into each node, has no repo digest, and a task asking for a
# digest finds nothing to run. So it fails on every service, the compliant one included.
CANNOT_PASS_IN_LAB = {"images.digest-pinned"}
ONE_REPLICA = {"rollout.replicas"}  # the misconfigured services run one task to stay cheap


def compliant(name: str, **changes) -> ServiceSpec:
    spec = ServiceSpec(
        name=name,
        image=DEFAULT_IMAGE,  # wk-busybox:1.35: a Docker Hub official-style name, pinned tag
        replicas=2,
        labels={"team": "acceptance"},
        constraints=["node.role==worker"],
        memory_limit=128 * MIB,
        memory_reservation=64 * MIB,
        cpu_limit=0.5,
        healthcheck=["true"],
        update_config={"parallelism": 1, "failure_action": "rollback", "order": "start-first"},
        rollback_config={"parallelism": 1, "order": "stop-first"},
        restart_policy={"condition": "on-failure", "max_attempts": 3},
    )
    return replace(spec, **changes)


def lab_services(manager_socket: str) -> dict[str, tuple[ServiceSpec, set[str]]]:
    """Service name -> (spec, the rule ids that must fail on it, lab exception included)."""
    return {
        "acc-good": (compliant("acc-good"), set()),
        "acc-latest": (
            compliant("acc-latest", image="wk-busybox:latest", replicas=1),
            {"images.tag-pinned"} | ONE_REPLICA,
        ),
        "acc-foreign": (
            # tagged on the workers below: a personal Docker Hub namespace, not allowed
            compliant("acc-foreign", image="acme/tool:1.0", replicas=1),
            {"images.registry"} | ONE_REPLICA,
        ),
        "acc-bare": (
            # what `docker service create wk-busybox` gives, kept on the manager
            ServiceSpec(name="acc-bare", image="wk-busybox", constraints=["node.role==manager"]),
            {
                "images.tag-pinned",
                "health.healthcheck",
                "resources.memory-limit",
                "resources.memory-reservation",
                "resources.cpu-limit",
                "rollout.update-order",
                "manager-load.placement",
                "manager-load.unbounded-on-manager",
                "rollout.rollback-config",
                "rollout.single-node",  # the lab's one manager is the only place it may run
            }
            | ONE_REPLICA,
        ),
        "acc-secrets": (
            compliant(
                "acc-secrets",
                replicas=1,
                env={"DB_PASSWORD": "hunter2", "API_TOKEN_FILE": "/run/secrets/api"},
            ),
            {"config.secret-in-env"} | ONE_REPLICA,
        ),
        "acc-host": (
            compliant(
                "acc-host",
                replicas=1,
                mounts=["/etc:/host-etc:ro", f"{manager_socket}:/var/run/docker.sock:rw"],
                cap_add=["NET_ADMIN"],
            ),
            {
                "config.bind-mounts",
                "config.sensitive-host-path",
                "security.docker-socket",
                "security.capabilities",
            }
            | ONE_REPLICA,
        ),
        "acc-loose": (
            compliant(
                "acc-loose",
                replicas=1,
                memory_limit=64 * MIB,
                memory_reservation=None,
                update_config={"failure_action": "continue"},
                restart_policy={"condition": "none"},
                mounts=["acc-data:/data:rw"],
            ),
            {
                "resources.memory-floor",
                "resources.memory-reservation",
                "rollout.update-failure-action",
                "rollout.update-order",
                "rollout.restart-policy",
                "rollout.update-parallelism",  # the SDK's UpdateConfig sends Parallelism 0
                "config.stateful-pinned",
            }
            | ONE_REPLICA,
        ),
        # readiness truth (issue 13), items 2, 3 and 8
        "acc-dollar": (
            # the Engine never expands $: a bcrypt-like value is literal; a Swarm template is not
            compliant(
                "acc-dollar",
                replicas=1,
                env={"DB_PASSWORD": "$uperS3cret", "NODE_TOKEN": "{{.Node.Hostname}}"},
            ),
            {"config.secret-in-env"} | ONE_REPLICA,
        ),
        "acc-swarmkit": (
            # swarmkit's semantics: case-insensitive keys, a missing label equals "", node.ip
            compliant(
                "acc-swarmkit",
                replicas=1,
                constraints=[
                    "Node.Role==WORKER",
                    "node.labels.missing!=x",
                    "node.ip!=192.0.2.0/24",
                ],
            ),
            ONE_REPLICA,
        ),
        "acc-parent": (
            # /run holds the socket: mounting the parent hands it over
            compliant("acc-parent", replicas=1, mounts=["/run:/host-run:ro"]),
            {"config.bind-mounts", "config.sensitive-host-path", "security.docker-socket"}
            | ONE_REPLICA,
        ),
        "acc-nowhere": (
            compliant(
                "acc-nowhere",
                replicas=1,
                constraints=["node.role==worker", "node.labels.zone==mars"],
            ),
            {"health.converged", "rollout.constraints-satisfiable"} | ONE_REPLICA,
        ),
    }


@pytest.fixture(scope="module")
def lab_with_services(swarm_lab):
    """The session lab with the acceptance services running (removed after the module)."""
    lab = swarm_lab
    client = lab.client()
    for hostname in lab.hostnames:
        if lab.swarm_node(hostname).attrs["Spec"]["Availability"] != "active":
            lab.activate(hostname)
        if hostname != lab.manager:
            lab.client(hostname).images.get(DEFAULT_IMAGE).tag("acme/tool", "1.0")
    wanted = lab_services(str(lab.node_socket(lab.manager)))
    created = [lab.create_service(spec) for spec, _ in wanted.values()]
    try:
        for service in created:
            if service.name != "acc-nowhere":
                lab.wait_converged(service, timeout=60)
        yield lab, {name: expected for name, (_, expected) in wanted.items()}
    finally:
        for service in client.services.list():
            if service.name.startswith(PREFIX):
                service.remove()


@pytest.fixture
def polled(lab_with_services):
    """The lab registered as cluster `lab` and polled once through the real poller."""
    lab, expected = lab_with_services
    cluster = registration.cluster_add(name="lab", url=lab.docker_host)
    outcome = pipeline.cluster_poll(cluster=cluster)
    assert outcome is not None and outcome.run.ok, outcome and outcome.run.error
    # The poller records a scoring failure instead of raising: make sure one was stored.
    assert Evaluation.objects.filter(cluster=cluster).count() == 1
    return Cluster.objects.get(pk=cluster.pk), expected


# --- the spec's formulas, written again here, independently of readiness.scoring -------------

WEIGHT = {"critical": 3, "warning": 1, "info": 0}


def spec_score(checks) -> int:
    """floor(100 * sum(w_r * p_r) / sum(w_r)) over rules with non-waived pass/fail checks."""
    per_rule = defaultdict(lambda: [None, 0, 0])
    for check in checks:
        if check["status"] not in ("pass", "fail"):
            continue
        entry = per_rule[check["rule"]]
        entry[0] = WEIGHT[check["severity"]]
        entry[1 if check["status"] == "pass" else 2] += 1
    total = sum(weight for weight, _, _ in per_rule.values())
    if total == 0:
        return 100
    weighted = sum(Fraction(w * passed, passed + failed) for w, passed, failed in per_rule.values())
    return math.floor(100 * weighted / total)


def spec_grade(score: int, checks) -> str:
    grade = next(
        g for g, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60), ("F", 0)) if score >= floor
    )
    critical_fails = any(c["status"] == "fail" and c["severity"] == "critical" for c in checks)
    return "C" if critical_fails and grade in ("A", "B") else grade


def stored_checks(evaluation):
    return list(
        evaluation.checks.values("rule", "severity", "status", "object_type", "object_name")
    )


def all_checks(cluster, evaluation):
    """Every check of EVALUATION, passes included: the same evaluation rebuilt as a report.

    Evaluations store only their non-passing checks (passes are counted); the rebuilt report
    must agree with what was stored, row for row.
    """
    report = selectors.report_for_cluster(
        cluster=cluster,
        snapshot=cluster_selectors.latest_snapshot(cluster=cluster),
        now=evaluation.evaluated_at,
        operations=maintenance_selectors.operations_facts(
            cluster=cluster, now=evaluation.evaluated_at
        ),
    )
    checks = [
        {"rule": c.rule, "severity": c.severity, "status": c.status,
         "object_type": c.object.type, "object_name": c.object.name}
        for c in report.checks
    ]  # fmt: skip

    def key(check):
        return tuple(check[k] for k in ("rule", "severity", "status", "object_type", "object_name"))

    stored = sorted(map(key, stored_checks(evaluation)))
    assert stored == sorted(key(c) for c in checks if c["status"] != "pass")
    assert sum(c["status"] == "pass" for c in checks) == evaluation.summary["passed"]
    return checks


def failing_by_service(checks) -> dict[str, set[str]]:
    failing = defaultdict(set)
    for check in checks:
        if check["object_type"] == "service" and check["status"] == "fail":
            failing[check["object_name"]].add(check["rule"])
    return {name: rules for name, rules in failing.items() if name.startswith(PREFIX)}


def test_it_fails_exactly_the_rules_each_service_breaks(polled):
    cluster, expected = polled
    checks = all_checks(cluster, selectors.latest_evaluation(cluster=cluster))
    assert failing_by_service(checks) == {
        name: rules | CANNOT_PASS_IN_LAB for name, rules in expected.items()
    }
    # Every service-level rule that applies to the compliant service was really evaluated.
    good = {c["rule"]: c["status"] for c in checks if c["object_name"] == "acc-good"}
    assert {rule for rule, status in good.items() if status == "pass"} >= {
        "images.tag-pinned", "images.consistent", "images.registry", "health.healthcheck",
        "health.converged", "health.flapping", "resources.memory-limit",
        "resources.memory-floor", "resources.memory-reservation", "resources.cpu-limit",
        "config.secret-in-env", "config.bind-mounts", "config.sensitive-host-path",
        "rollout.replicas", "rollout.spread", "rollout.update-failure-action",
        "rollout.update-order", "rollout.restart-policy", "rollout.update-stuck",
        "rollout.constraints-satisfiable", "security.docker-socket", "security.capabilities",
        "manager-load.placement",
    }  # fmt: skip
    # The application task on the manager is a node-level finding too.
    manager = [c for c in checks if c["rule"] == "manager-load.no-app-tasks"]
    assert [(c["object_name"], c["status"]) for c in manager] == [("wk-manager-1", "fail")]


def test_its_score_recomputes_waivers_leave_it_and_stop_at_expiry(polled, operator):
    cluster, _ = polled
    first = selectors.latest_evaluation(cluster=cluster)
    checks = all_checks(cluster, first)
    assert first.score == spec_score(checks)
    assert first.grade == spec_grade(first.score, checks)
    assert first.grade_capped and first.grade not in ("A", "B")

    # Waive every failing rule but images.tag-pinned: the score climbs past B, the one
    # critical failure left still caps the grade at C.
    now = timezone.now()
    snapshot = cluster_selectors.latest_snapshot(cluster=cluster)
    waived_rules = {c["rule"] for c in checks if c["status"] == "fail"} - {"images.tag-pinned"}
    for rule in sorted(waived_rules):
        services.waiver_create(
            cluster=cluster, rule=rule, reason="accepted for the acceptance test",
            owner=operator, expires_at=now + timedelta(days=7), created_by=operator, now=now,
        )  # fmt: skip
    waived = pipeline.evaluation_run(cluster=cluster, snapshot=snapshot, now=now)
    waived_checks = all_checks(cluster, waived)
    assert {c["rule"] for c in waived_checks if c["status"] == "waived"} == waived_rules
    assert not [c for c in waived_checks if c["rule"] in waived_rules and c["status"] != "waived"]
    assert {c["rule"] for c in waived_checks if c["status"] == "fail"} == {"images.tag-pinned"}
    assert waived.score == spec_score(waived_checks) >= 80
    assert (waived.grade, waived.grade_capped) == ("C", True)

    later = now + timedelta(days=8)
    assert pipeline.waivers_expire(now=later) == len(waived_rules)
    expired = pipeline.evaluation_run(cluster=cluster, snapshot=snapshot, now=later)
    expired_checks = all_checks(cluster, expired)
    assert not [c for c in expired_checks if c["status"] == "waived"]
    assert failing_by_service(expired_checks) == failing_by_service(checks)
    assert (expired.score, expired.grade) == (first.score, first.grade)


def report(capsys, *args) -> tuple[int, str]:
    try:
        call_command("readiness", "report", "lab", *args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


def test_its_report_command_tells_the_same_and_exits_as_asked(polled, capsys):
    cluster, expected = polled
    evaluation = selectors.latest_evaluation(cluster=cluster)
    code, out = report(capsys, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["cluster"], data["environment"]) == ("lab", "production")
    assert (data["score"], data["grade"], data["grade_capped"]) == (
        evaluation.score,
        evaluation.grade,
        True,
    )
    checks = [
        dict(c, object_type=c["object"]["type"], object_name=c["object"]["name"])
        for c in data["checks"]
    ]
    assert data["score"] == spec_score(checks)
    assert failing_by_service(checks) == {
        name: rules | CANNOT_PASS_IN_LAB for name, rules in expected.items()
    }
    assert data["summary"]["critical"] == sum(
        1 for c in checks if c["status"] == "fail" and c["severity"] == "critical"
    )
    assert report(capsys, "--format", "json", "--fail-on-critical")[0] == 3
    assert report(capsys, "--format", "json", "--fail-below", "101")[0] == 4
    assert report(capsys, "--format", "json", "--fail-below", str(data["score"]))[0] == 0


# --- readiness truth (issue 13): items 1 and 7 against the lab ------------------------------


def test_it_takes_the_image_health_check_and_judges_the_image_a_service_runs_now(swarm_lab):
    """Item 1: an image imported with `HEALTHCHECK CMD true` gives a spec without a health check
    "health check from the image". Item 7: `docker service update --image` (through the SDK)
    on a stack-labelled service leaves com.docker.stack.image stale: the running image is
    judged, the label explains the drift."""
    from lab import image as lab_image

    lab = swarm_lab
    tar = lab_image.rootfs_tar()
    for hostname in lab.hostnames:
        lab.client(hostname).api.import_image_from_data(
            tar,
            repository="wk-busybox-hc",
            tag="1.35",
            changes=[*lab_image.IMAGE_CHANGES, "HEALTHCHECK CMD true"],
        )
    stack = {"team": "acceptance", "com.docker.stack.namespace": "acc"}
    image_hc = lab.create_service(
        compliant("acc-imagehc", image="wk-busybox-hc:1.35", healthcheck=None, replicas=1)
    )
    drift = lab.create_service(
        compliant("acc-drift", replicas=1, labels=stack | {"com.docker.stack.image": DEFAULT_IMAGE})
    )
    try:
        lab.wait_converged(image_hc, timeout=60)
        lab.wait_converged(drift, timeout=60)
        drift.reload()
        drift.update(image="wk-busybox:latest")  # what `docker service update --image` sends
        drift.reload()
        assert drift.attrs["Spec"]["Labels"]["com.docker.stack.image"] == DEFAULT_IMAGE
        cluster = registration.cluster_add(name="lab-truth", url=lab.docker_host)
        outcome = pipeline.cluster_poll(cluster=cluster)
        assert outcome is not None and outcome.run.ok, outcome and outcome.run.error
        report = selectors.report_for_cluster(
            cluster=cluster,
            snapshot=outcome.snapshot,
            now=timezone.now(),
            operations=maintenance_selectors.operations_facts(cluster=cluster, now=timezone.now()),
        )
        found = {(c.rule, c.object.name): c for c in report.checks}
        health = found[("health.healthcheck", "acc-imagehc")]
        assert health.status == "pass" and "health check from the image" in health.message
        tag = found[("images.tag-pinned", "acc-drift")]
        assert tag.status == "fail", tag.message
        assert f"deployed as {DEFAULT_IMAGE}, now runs wk-busybox:latest" in tag.message
    finally:
        image_hc.remove()
        drift.remove()
