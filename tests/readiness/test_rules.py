"""Every rule on plain data: one passing, one failing and one not-applicable case."""

from dataclasses import replace
from datetime import timedelta

import pytest

from readiness import catalogue
from readiness.context import Endpoint
from readiness.engine import evaluate
from readiness.policy import Policy

from .factories import (
    GIB,
    MIB,
    NOW,
    BackupFact,
    EnvVar,
    Mount,
    Network,
    UpdatePolicy,
    WindowFact,
    context,
    facts,
    node,
    run,
    service,
    snapshot,
    task,
)

M1, W1 = node("m1", "manager", leader=True), node("w1")
WEB = service("web")
JOB = service("migrate", mode="replicated-job", replicas=None)
INFRA = service("agent", labels={"watchkeeper.role": "infrastructure"})
NO_NODES = snapshot(nodes=[])


def svc(**kw):
    return snapshot(services=[service("web", **kw)])


def cluster_of(*nodes, **kw):
    return snapshot(nodes=list(nodes), **kw)


def ZONED(*zones):  # noqa: N802 - reads like a constant in the table
    return [
        node(f"m{i}", "manager", leader=i == 1, labels={"zone": zone} if zone else {})
        for i, zone in enumerate(zones, 1)
    ]


def tokens(seen, created=NOW - timedelta(days=400)):
    return snapshot(
        created_at=created,
        worker_token_fingerprint="f" * 16,
        worker_token_seen_since=seen,
        manager_token_fingerprint="e" * 16,
        manager_token_seen_since=seen,
    )


# rule id -> (passing case, failing case, not-applicable case); a case is (snapshot, context)
CASES = {
    # topology
    "topology.multi-node": (
        (snapshot(), None),
        (cluster_of(M1, W1), None),
        (NO_NODES, None),
    ),
    "topology.manager-count": (
        (snapshot(), None),
        (cluster_of(M1, node("m2", "manager"), W1), None),
        (cluster_of(W1), None),
    ),
    "topology.managers-reachable": (
        (snapshot(), None),
        (
            cluster_of(M1, node("m2", "manager", reachability="unreachable"), W1),
            None,
        ),
        (cluster_of(W1), None),
    ),
    "topology.nodes-ready": (
        (cluster_of(M1, node("w2", state="down")), context(operations=facts(in_window_now=True))),
        (cluster_of(M1, node("w2", state="down")), context(operations=facts())),
        (NO_NODES, None),
    ),
    "topology.engine-versions": (
        (snapshot(), None),
        (cluster_of(M1, node("w2", engine_version="26.1.0")), None),
        (cluster_of(M1), None),
    ),
    "topology.control-plane-isolated": (
        (
            cluster_of(
                *[node(f"m{i}", "manager", availability="drain") for i in range(3)],
                *[node(f"w{i}") for i in range(3)],
            ),
            None,
        ),
        (
            cluster_of(
                *[node(f"m{i}", "manager") for i in range(3)], *[node(f"w{i}") for i in range(3)]
            ),
            None,
        ),
        (snapshot(), None),
    ),
    # sizing
    "sizing.manager-tier": (
        (cluster_of(node("m1", "manager", cpus=2, memory_bytes=int(3.8 * GIB))), None),
        (cluster_of(node("m1", "manager", cpus=1, memory_bytes=2 * GIB)), None),
        (cluster_of(W1), None),
    ),
    "sizing.worker-tier": (
        (cluster_of(W1), None),
        (cluster_of(node("w1", cpus=1, memory_bytes=8 * GIB)), None),
        (cluster_of(M1), None),
    ),
    "sizing.reservation-pressure": (
        (cluster_of(W1, services=[WEB], tasks=[task(WEB)]), None),
        (
            cluster_of(
                W1,
                services=[service("big", memory_reservation=7 * GIB)],
                tasks=[task(service("big", memory_reservation=7 * GIB))],
            ),
            None,
        ),
        (cluster_of(node("w1", state="down")), None),
    ),
    "sizing.n-plus-one": (
        (snapshot(services=[WEB], tasks=[task(WEB)]), None),
        (
            cluster_of(
                node("m1", "manager", availability="drain"),
                W1,
                node("w2"),
                services=[service("big", memory_reservation=10 * GIB)],
                tasks=[task(service("big", memory_reservation=10 * GIB))],
            ),
            None,
        ),
        (cluster_of(M1), None),
    ),
    # manager-load
    "manager-load.no-app-tasks": (
        (cluster_of(M1, W1, services=[WEB, INFRA], tasks=[task(WEB), task(INFRA, "id-m1")]), None),
        (cluster_of(M1, W1, services=[WEB], tasks=[task(WEB, "id-m1")]), None),
        (cluster_of(W1, services=[WEB], tasks=[task(WEB)]), None),
    ),
    "manager-load.placement": (
        (cluster_of(M1, services=[service("web", constraints=["node.role != manager"])]), None),
        (cluster_of(M1, services=[service("web", constraints=[])]), None),
        (cluster_of(M1, services=[service("agent", constraints=[], labels=INFRA.labels)]), None),
    ),
    "manager-load.unbounded-on-manager": (
        (cluster_of(M1, services=[WEB], tasks=[task(WEB, "id-m1")]), None),
        (
            cluster_of(
                M1,
                services=[service("web", memory_limit=None)],
                tasks=[task(service("web", memory_limit=None), "id-m1")],
            ),
            None,
        ),
        (cluster_of(M1, W1, services=[WEB], tasks=[task(WEB)]), None),
    ),
    # images
    "images.tag-pinned": (
        (svc(image="registry:5000/app:1.2", labels={}), None),
        (svc(image="registry:5000/app"), None),
        (svc(image=""), None),
    ),
    "images.digest-pinned": (
        (svc(image="app@sha256:" + "b" * 64), None),
        (svc(image="registry.example.com/app:1.0"), None),
        (svc(image=""), None),
    ),
    "images.consistent": (
        (snapshot(services=[WEB], tasks=[task(WEB), task(WEB, "id-w2")]), None),
        (snapshot(services=[WEB], tasks=[task(WEB), task(WEB, "id-w2", image="web:old")]), None),
        (snapshot(services=[WEB]), None),
    ),
    "images.registry": (
        (svc(image="postgres:17.2-alpine"), None),
        (svc(image="joergs/app-server:0.1"), None),
        (svc(image=""), None),
    ),
    # health
    "health.healthcheck": (
        (svc(healthcheck=["CMD-SHELL", "curl -f localhost"]), None),
        (svc(healthcheck=["NONE"]), None),
        (snapshot(services=[JOB]), None),
    ),
    "health.converged": (
        (svc(running_tasks=2, desired_tasks=2), None),
        (svc(running_tasks=1, desired_tasks=2), None),
        (snapshot(services=[JOB]), None),
    ),
    "health.flapping": (
        (snapshot(services=[WEB], tasks=[task(WEB, state="failed")] * 2), None),
        (
            snapshot(
                services=[WEB],
                tasks=[
                    task(WEB, state=s, slot=i) for i, s in enumerate(["failed", "rejected"] * 2)
                ],
            ),
            None,
        ),
        (NO_NODES, None),
    ),
    # resources
    "resources.memory-limit": (
        (svc(memory_limit=256 * MIB), None),
        (svc(memory_limit=None), None),
        (snapshot(services=[]), None),
    ),
    "resources.memory-floor": (
        (svc(memory_limit=128 * MIB), None),
        (svc(memory_limit=32 * MIB), None),
        (svc(memory_limit=None), None),
    ),
    "resources.memory-reservation": (
        (svc(memory_reservation=64 * MIB), None),
        (svc(memory_reservation=None), None),
        (snapshot(services=[]), None),
    ),
    "resources.cpu-limit": (
        (svc(cpu_limit=0.5), None),
        (svc(cpu_limit=None), None),
        (snapshot(services=[]), None),
    ),
    # config
    "config.secret-in-env": (
        (svc(env=[EnvVar("DB_PASSWORD_FILE", literal=True), EnvVar("DB_PASSWORD")]), None),
        (svc(env=[EnvVar("Api_Key", literal=True)]), None),
        (snapshot(services=[]), None),
    ),
    "config.bind-mounts": (
        (svc(mounts=[Mount("volume", "data", "/data")]), None),
        (svc(mounts=[Mount("bind", "/srv/app", "/app")]), None),
        (snapshot(services=[]), None),
    ),
    "config.sensitive-host-path": (
        (svc(mounts=[Mount("bind", "/etc/app", "/config")]), None),
        (svc(mounts=[Mount("bind", "/etc/", "/host-etc")]), None),
        (
            snapshot(
                services=[service("agent", labels=INFRA.labels, mounts=[Mount("bind", "/", "/h")])]
            ),
            None,
        ),
    ),
    "config.stateful-pinned": (
        (
            svc(
                mounts=[Mount("volume", "pg", "/var/lib/postgresql/data")],
                constraints=["node.hostname == w1"],
            ),
            None,
        ),
        (svc(mounts=[Mount("volume", "pg", "/var/lib/postgresql/data")]), None),
        (svc(mounts=[Mount("volume", "shared", "/data", volume_driver="nfs")]), None),
    ),
    # new rules of the readiness truth issue (rules-pure)
    "manager-load.ingress-ports": (
        (snapshot(services=[service("web", published_ports=[443], host_ports=[443])]), None),
        (snapshot(services=[service("web", published_ports=[443])]), None),
        (cluster_of(M1, W1, services=[service("web", published_ports=[443])]), None),
    ),
    "rollout.single-node": (
        (svc(), None),
        (svc(constraints=["node.hostname==w1"]), None),
        (snapshot(services=[service("agent", mode="global", replicas=None)]), None),
    ),
    "rollout.update-parallelism": (
        (svc(update_config=UpdatePolicy(parallelism=2, failure_action="rollback")), None),
        (svc(update_config=UpdatePolicy(parallelism=0, failure_action="rollback")), None),
        (snapshot(services=[JOB]), None),
    ),
    "rollout.rollback-config": (
        (svc(), None),
        (svc(rollback_config=None), None),
        (snapshot(services=[service("agent", mode="global", replicas=None)]), None),
    ),
    "rollout.host-port-placement": (
        (svc(published_ports=[80], host_ports=[80]), None),
        (svc(published_ports=[80], host_ports=[80], constraints=[]), None),
        (svc(published_ports=[80]), None),
    ),
    # rollout
    "rollout.replicas": (
        (svc(replicas=3), None),
        (svc(replicas=1), None),
        (snapshot(services=[service("agent", mode="global", replicas=None)]), None),
    ),
    "rollout.spread": (
        (snapshot(services=[WEB], tasks=[task(WEB), task(WEB, "id-w2")]), None),
        (snapshot(services=[WEB], tasks=[task(WEB), task(WEB, slot=2)]), None),
        (snapshot(services=[WEB], tasks=[task(WEB)]), None),
    ),
    "rollout.update-failure-action": (
        (svc(update_config=None), None),
        (svc(update_config=UpdatePolicy(failure_action="continue")), None),
        (snapshot(services=[JOB]), None),
    ),
    "rollout.update-order": (
        (svc(update_config=UpdatePolicy(order="start-first")), None),
        (svc(update_config=None), None),
        (snapshot(services=[JOB]), None),
    ),
    "rollout.restart-policy": (
        (svc(restart_condition="on-failure"), None),
        (svc(restart_condition="none"), None),
        (snapshot(services=[JOB]), None),
    ),
    "rollout.update-stuck": (
        (svc(update_state="completed"), None),
        (svc(update_state="rollback_paused", update_message="update paused"), None),
        (snapshot(services=[JOB]), None),
    ),
    "rollout.constraints-satisfiable": (
        (snapshot(services=[WEB]), None),
        (snapshot(services=[service("db", constraints=["node.labels.database==true"])]), None),
        (svc(constraints=[]), None),
    ),
    # security
    "security.api-tls": (
        (snapshot(), context(endpoint=Endpoint("tcp", tls=True, client_cert=True, verify=True))),
        (snapshot(), context(endpoint=Endpoint("tcp", tls=True, client_cert=False, verify=True))),
        (snapshot(), context(endpoint=None)),
    ),
    "security.autolock": (
        (snapshot(autolock=True), None),
        (snapshot(autolock=False), None),
        (snapshot(nodes=[], cluster_id=""), None),
    ),
    "security.cert-expiry": (
        (snapshot(node_cert_expiry_ns=30 * 86400 * 10**9), None),
        (snapshot(node_cert_expiry_ns=365 * 86400 * 10**9), None),
        (snapshot(node_cert_expiry_ns=None), None),
    ),
    "security.overlay-encrypted": (
        (
            snapshot(
                services=[service("web", networks=["net-1"])],
                networks=[Network("net-1", "backend", "overlay", "swarm", encrypted=True)],
            ),
            None,
        ),
        (
            snapshot(
                services=[service("web", networks=["backend"])],
                networks=[Network("net-1", "backend", "overlay", "swarm")],
            ),
            None,
        ),
        (
            snapshot(
                services=[service("web", networks=["ing"])],
                networks=[Network("ing", "ingress", "overlay", "swarm", ingress=True)],
            ),
            None,
        ),
    ),
    "security.docker-socket": (
        (svc(mounts=[Mount("volume", "data", "/data")]), None),
        (svc(mounts=[Mount("bind", "/var/run/docker.sock", "/var/run/docker.sock")]), None),
        (
            snapshot(
                services=[
                    service(
                        "agent",
                        labels=INFRA.labels,
                        mounts=[Mount("bind", "/run/docker.sock", "/run/docker.sock")],
                    )
                ]
            ),
            None,
        ),
    ),
    "security.capabilities": (
        (svc(cap_add=["NET_BIND_SERVICE"]), None),
        (svc(cap_add=["CAP_SYS_ADMIN"]), None),
        (snapshot(services=[]), None),
    ),
    # operations
    "operations.maintenance-window": (
        (snapshot(), context(operations=facts())),
        (snapshot(), context(operations=facts(windows=[WindowFact("long", 240, True)]))),
        (snapshot(), context(operations=None)),
    ),
    "operations.weekly-reboot": (
        (
            cluster_of(W1),
            context(operations=facts(last_reboot={"id-w1": NOW - timedelta(days=7)})),
        ),
        (
            cluster_of(W1),
            context(operations=facts(last_reboot={"id-w1": NOW - timedelta(days=9)})),
        ),
        (cluster_of(W1), context(operations=None)),
    ),
    "operations.backup-restore-tested": (
        (snapshot(), context(operations=facts())),
        (
            snapshot(),
            context(
                operations=facts(
                    backups=[BackupFact("db", 30, NOW - timedelta(days=31), "overdue")]
                )
            ),
        ),
        (snapshot(), context(operations=None)),
    ),
    "operations.notifications": (
        (snapshot(), context(operations=facts(recipients=2))),
        (snapshot(), context(operations=facts(recipients=0))),
        (snapshot(), context(operations=None)),
    ),
    "operations.logging": (
        (svc(log_driver="journald"), None),
        (
            snapshot(services=[service("web", log_driver=None)], default_log_driver="json-file"),
            None,
        ),
        (snapshot(services=[service("web", log_driver=None)], default_log_driver="fluentd"), None),
    ),
    "topology.manager-failure-domains": (
        (cluster_of(*ZONED("a", "b", "c"), W1), None),
        (cluster_of(*ZONED("a", "a", "a"), W1), None),
        (cluster_of(M1, W1), None),  # one manager: nothing to spread
    ),
    "security.join-token-rotation": (
        (tokens(NOW - timedelta(days=10)), None),
        (tokens(NOW - timedelta(days=200)), None),
        (snapshot(), None),  # /swarm not read
    ),
    "operations.swarm-state-backup": (
        (snapshot(), context(operations=facts())),
        (snapshot(), context(operations=facts(backups=[BackupFact("db", 90, NOW, "ok")]))),
        (snapshot(), context(operations=None)),
    ),
}

NOT_EVALUATED_WITHOUT_FACTS = {
    "operations.maintenance-window",
    "operations.weekly-reboot",
    "operations.backup-restore-tested",
    "operations.notifications",
    "operations.swarm-state-backup",
}


def test_it_has_a_case_for_every_rule_of_the_catalogue():
    assert sorted(CASES) == sorted(catalogue.rule_ids())
    assert len(CASES) == 54


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_it_passes(rule_id):
    snap, ctx = CASES[rule_id][0]
    statuses = run(rule_id, snap, ctx)
    assert statuses and {status for status, _ in statuses} == {"pass"}, statuses


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_it_fails(rule_id):
    snap, ctx = CASES[rule_id][1]
    statuses = run(rule_id, snap, ctx)
    assert "fail" in {status for status, _ in statuses}, statuses


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_it_is_not_applicable(rule_id):
    snap, ctx = CASES[rule_id][2]
    statuses = run(rule_id, snap, ctx)
    if rule_id in NOT_EVALUATED_WITHOUT_FACTS:
        assert statuses and {status for status, _ in statuses} == {"not_evaluated"}
    elif rule_id == "operations.logging":
        assert statuses == [("pass", "lab")]  # a cluster-wide driver makes services irrelevant
    else:
        assert statuses == []


@pytest.mark.parametrize("rule", catalogue.all_rules(), ids=lambda r: r.id)
def test_it_documents_every_rule(rule):
    assert rule.title and rule.seed
    assert ("Seed" in rule.rationale or "guide" in rule.rationale) and len(rule.rationale) > 80
    remediation = rule.remediation.lower()
    assert "docker" in remediation or "maintenance" in remediation or "recipient" in remediation


def test_it_names_the_object_and_observed_value_in_messages():
    outcomes = catalogue.get("resources.memory-floor").function(
        svc(memory_limit=32 * MIB), Policy(), context()
    )
    assert outcomes[0].message == "service web: memory limit 32 MiB is below 128 MiB"


@pytest.mark.parametrize(
    ("image", "passed"),
    [
        ("app", False),
        ("app:latest", False),
        ("app:latest@sha256:" + "c" * 64, False),
        ("registry:5000/app", False),
        ("registry:5000/app:2.1", True),
        ("registry:5000/app:2", False),
        ("postgres:16", False),
        ("postgres:16-alpine", False),
        ("postgres:16.4-alpine", True),
        ("node:v20", False),
        ("app:1.2.3", True),
        ("app:2024-05-01", True),
        ("app:20240501", True),
        ("app:main", False),
        ("app:stable-slim", False),
        ("app:nightly", False),
        ("app@sha256:" + "c" * 64, True),
        ("library/app:1.0", True),
    ],
)
def test_it_reads_image_tags(image, passed):
    assert run("images.tag-pinned", svc(image=image)) == [("pass" if passed else "fail", "web")]


def test_it_judges_the_image_running_now_and_explains_a_stale_stack_label():
    """`docker service update --image app:latest` leaves com.docker.stack.image at app:1.2.3."""
    snap = svc(
        image="app:latest@sha256:" + "d" * 64, labels={"com.docker.stack.image": "app:1.2.3"}
    )
    assert run("images.tag-pinned", snap) == [("fail", "web")]
    (outcome,) = catalogue.get("images.tag-pinned").function(snap, Policy(), context())
    assert "deployed as app:1.2.3, now runs app:latest" in outcome.message
    fixed = svc(image="app:1.2.4@sha256:" + "d" * 64, labels={"com.docker.stack.image": "app:1"})
    assert run("images.tag-pinned", fixed) == [("pass", "web")]


def test_it_counts_only_failures_of_the_last_hour_as_flapping():
    old = NOW - timedelta(hours=2)
    snap = snapshot(services=[WEB], tasks=[task(WEB, state="failed", timestamp=old)] * 5)
    assert run("health.flapping", snap) == [("pass", "web")]


def test_it_accepts_a_node_label_that_no_manager_has_as_placement():
    manager = node("m1", "manager", labels={"tier": "front"})
    ok = cluster_of(manager, services=[service("web", constraints=["node.labels.tier==back"])])
    bad = cluster_of(manager, services=[service("web", constraints=["node.labels.tier==front"])])
    assert run("manager-load.placement", ok) == [("pass", "web")]
    assert run("manager-load.placement", bad) == [("fail", "web")]


def test_it_applies_the_memory_tolerance_to_tiers():
    policy = Policy()
    assert policy.tier_of(2, int(3.8 * GIB)) == "medium"
    assert policy.tier_of(2, int(3.5 * GIB)) == "small"
    assert policy.tier_of(4, int(15.5 * GIB)) == "x-large"
    assert policy.tier_of(2, int(15.5 * GIB)) == "large"


def test_it_flags_private_keys_in_any_variable():
    snap = svc(env=[EnvVar("TLS_CONFIG", literal=True, private_key=True)])
    assert run("config.secret-in-env", snap) == [("fail", "web")]


@pytest.mark.parametrize(
    ("source", "target", "status"),
    [
        ("/run/user/1000/docker.sock", "/var/run/docker.sock", "fail"),  # rootless Docker
        ("/srv/engine/docker.sock", "/engine.sock", "fail"),  # a daemon's non-default --host
        ("/srv/engine/api.sock", "/run/docker.sock", "fail"),  # seen where clients look
        ("/srv/app/app.sock", "/app.sock", "pass"),
    ],
)
def test_it_finds_the_docker_socket_wherever_it_lives(source, target, status):
    snap = svc(mounts=[Mount("bind", source, target)])
    assert run("security.docker-socket", snap) == [(status, "web")]


# --- readiness truth: data the poll now gathers (issue 13 items 1, 7, 9, 10, new rules) ------


def test_it_takes_the_health_check_of_the_image_when_the_spec_has_none():
    image = "registry.example.com/web:1.0"
    snap = svc(image=image, healthcheck=None)
    with_image = replace(snap, images={image: ["CMD-SHELL", "curl -f localhost"]})
    (outcome,) = catalogue.get("health.healthcheck").function(with_image, Policy(), context())
    assert outcome.passed and "health check from the image" in outcome.message
    assert run("health.healthcheck", replace(snap, images={image: []})) == [("fail", "web")]
    assert run("health.healthcheck", replace(snap, images={image: ["NONE"]})) == [("fail", "web")]
    # a spec NONE disables the image's check
    disabled = replace(svc(image=image, healthcheck=["NONE"]), images={image: ["CMD", "true"]})
    assert run("health.healthcheck", disabled) == [("fail", "web")]


def test_it_calls_the_health_check_unknown_when_the_image_could_not_be_read():
    snap = svc(healthcheck=None)  # no entry in snapshot.images: the manager could not inspect it
    (outcome,) = catalogue.get("health.healthcheck").function(snap, Policy(), context())
    assert outcome.passed is None and "could not be inspected" in outcome.message
    report = evaluate(snap, Policy(), context(), rules=[catalogue.get("health.healthcheck")])
    assert [c.status for c in report.checks] == ["not_evaluated"]
    assert report.score.rules == []  # out of the score


def test_it_fails_a_log_driver_none_and_local_logs_without_a_shipper():
    assert run("operations.logging", svc(log_driver="none")) == [("fail", "lab")]
    local = svc(log_driver="local")
    assert run("operations.logging", local) == [("fail", "lab")]
    shipper = service(
        "logs", image="fluent/fluent-bit:3.1.9", mode="global", replicas=None, log_driver=None
    )
    shipped = replace(local, services=[*local.services, shipper])
    assert run("operations.logging", shipped) == [("pass", "lab")]
    # the swarm-wide task default (/swarm TaskDefaults.LogDriver) counts for every service
    swarm_wide = snapshot(
        services=[service("web", log_driver=None)], default_log_driver="json-file",
        task_log_driver="gelf",
    )  # fmt: skip
    assert run("operations.logging", swarm_wide) == [("pass", "lab")]
    discarded = snapshot(services=[service("web", log_driver=None)], task_log_driver="none")
    assert run("operations.logging", discarded) == [("fail", "lab")]


UPDATING = dict(
    update_state="updating",
    update_started_at=NOW - timedelta(seconds=30),
    update_config=UpdatePolicy(monitor_ns=10 * 10**9, failure_action="rollback"),
)


def test_it_reports_convergence_and_images_pending_during_a_rolling_update():
    web = service("web", running_tasks=1, desired_tasks=2, **UPDATING)
    snap = snapshot(services=[web], tasks=[task(web), task(web, "id-w2", image="web:old")])
    assert run("health.converged", snap) == [("pending", "web")]
    assert run("images.consistent", snap) == [("pending", "web")]
    report = evaluate(snap, Policy(), context(), rules=[catalogue.get("images.consistent")])
    assert [c.status for c in report.checks] == ["pending"] and report.score.rules == []
    assert not report.score.grade_capped


def test_it_fails_them_once_the_update_runs_past_its_bound():
    # 2 tasks x (10 s monitor) + 5 min allowance = 5 min 20 s
    late = dict(UPDATING, update_started_at=NOW - timedelta(minutes=6))
    web = service("web", running_tasks=1, desired_tasks=2, **late)
    snap = snapshot(services=[web], tasks=[task(web), task(web, "id-w2", image="web:old")])
    assert run("health.converged", snap) == [("fail", "web")]
    assert run("images.consistent", snap) == [("fail", "web")]
    done = service("web", running_tasks=1, desired_tasks=2, update_state="completed")
    assert run("health.converged", snapshot(services=[done])) == [("fail", "web")]


def test_it_calls_managers_in_one_domain_unknown_when_some_lack_the_label():
    snap = cluster_of(*ZONED("a", "a", ""), W1)
    assert run("topology.manager-failure-domains", snap) == [("not_evaluated", "lab")]
    rack = Policy(failure_domain_label="rack")
    assert run("topology.manager-failure-domains", snap, policy=rack) == [("not_evaluated", "lab")]
    off = Policy(failure_domain_label="")
    assert run("topology.manager-failure-domains", snap, policy=off) == []


def test_it_says_a_join_token_is_at_least_as_old_as_first_seen_and_never_older_than_the_swarm():
    (outcome,) = catalogue.get("security.join-token-rotation").function(
        tokens(NOW - timedelta(days=200)), Policy(), context()
    )
    assert "at least 200 days" in outcome.message
    young_swarm = tokens(NOW - timedelta(days=200), created=NOW - timedelta(days=20))
    assert run("security.join-token-rotation", young_swarm) == [("pass", "lab")]
    lenient = Policy(join_token_max_age_days=365)
    assert (
        run("security.join-token-rotation", tokens(NOW - timedelta(days=200)), policy=lenient)[0][0]
        == "pass"
    )


def test_it_fails_an_overdue_swarm_raft_restore_test():
    old = BackupFact("raft", 30, NOW - timedelta(days=31), "overdue", kind="swarm_raft")
    ctx = context(operations=facts(backups=[old]))
    assert run("operations.swarm-state-backup", snapshot(), ctx) == [("fail", "lab")]
