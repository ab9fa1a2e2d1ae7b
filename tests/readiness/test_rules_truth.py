"""Readiness truth (issue 13): rule results an experienced Swarm operator would agree with.

Realistic Engine API values run through the pure rule functions; each test failed before its fix.
"""

import pytest

from clusters import normalize
from readiness import catalogue
from readiness.compose import load_compose
from readiness.policy import Policy

from .factories import GIB, MIB, NOW, Mount, context, facts, node, run, service, snapshot, task  # noqa: F401


def svc(**kw):
    return snapshot(services=[service("web", **kw)])


def live_env(*items):
    return svc(env=[normalize.env_var(item) for item in items])


def messages(rule_id, snap, ctx=None):
    return [o.message for o in catalogue.get(rule_id).function(snap, Policy(), ctx or context())]


def linted(compose_text):
    snap, _ = load_compose(compose_text, filename="f.yml", now=NOW)
    return snap


# --- item 2: config.secret-in-env ------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        "DB_PASSWORD=$uperS3cret",
        "ADMIN_PASSWORD=$2y$10$abcdefghijklmnopqrstuv",
        "API_TOKEN={{ oops }}",
        "DB_PASSWORD=pw-{{.Task.Slot}}",
        'API_TOKEN={{join "s3cret" .Task.Slot}}',
        "APIKEY=abc",
        "access-key=abc",
    ],
)
def test_it_fails_literal_secrets_that_look_like_references(item):
    assert run("config.secret-in-env", live_env(item)) == [("fail", "web")]


@pytest.mark.parametrize(
    "item",
    [
        "NODE_TOKEN={{.Node.Hostname}}",
        "SECRET_ID={{.Service.Name}}-{{.Task.Slot}}",
        "TOKEN_SLOT={{ .Task.Slot }}",
        'SECRET_OWNER={{index .Service.Labels "owner"}}',
        "SECRET_NAME={{join .Service.Name .Task.Slot}}",
        "DB_PASSWORD=",
        "DB_PASSWORD_FILE=/run/secrets/db",
    ],
)
def test_it_passes_swarm_templates_and_empty_values(item):
    assert run("config.secret-in-env", live_env(item)) == [("pass", "web")]


def test_it_judges_a_name_the_same_way_live_and_in_the_lint():
    compose = "services:\n  web:\n    image: a:1\n    environment:\n      - APIKEY=abc\n"
    assert run("config.secret-in-env", live_env("APIKEY=abc")) == [("fail", "web")]
    assert run("config.secret-in-env", linted(compose)) == [("fail", "web")]


def test_it_fails_a_dollar_value_in_the_lint_too():
    compose = (
        "services:\n  web:\n    image: a:1\n    environment:\n      DB_PASSWORD: $$uperS3cret\n"
    )
    template = (
        "services:\n  web:\n    image: a:1\n    environment:\n      API_TOKEN: '{{.Node.ID}}'\n"
    )
    assert run("config.secret-in-env", linted(compose)) == [("fail", "web")]
    assert run("config.secret-in-env", linted(template)) == [("pass", "web")]


# --- item 3: rollout.constraints-satisfiable ---------------------------------------------------

DB_NODE = node("w1", labels={"Database": "true"}, addr="10.0.1.5", engine_labels={"zone": "A"})
NODES = [node("m1", "manager", availability="drain", addr="10.0.0.2"), DB_NODE]


def placed(*constraints, nodes=NODES, ctx=None):
    snap = snapshot(nodes=nodes, services=[service("db", constraints=list(constraints))])
    return run("rollout.constraints-satisfiable", snap, ctx)


@pytest.mark.parametrize(
    "constraint",
    [
        "node.ip==10.0.1.5",
        "node.ip == 10.0.1.0/24",
        "node.ip!=10.0.0.0/24",
        "Node.Labels.Database==TRUE",
        "NODE.HOSTNAME==W1",
        "node.labels.missing!=x",
        "engine.labels.zone==a",
        "node.role==Worker",
    ],
)
def test_it_reads_constraints_as_swarmkit_does(constraint):
    assert placed(constraint) == [("pass", "db")]


@pytest.mark.parametrize(
    "constraint",
    [
        "node.ip==10.0.2.0/24",
        "node.ip==not-an-address",
        "node.labels.database==true",  # label names are exact (a map lookup in swarmkit)
        "node.labels.missing==x",
        "node.hostname~=w1",
        "node.unknown==x",
    ],
)
def test_it_fails_constraints_no_node_meets(constraint):
    assert placed(constraint) == [("fail", "db")]


def test_it_counts_a_node_drained_inside_a_maintenance_window():
    nodes = [NODES[0], node("w1", labels={"Database": "true"}, availability="drain")]
    constraint = "node.labels.Database==true"
    assert placed(constraint, nodes=nodes) == [("fail", "db")]
    assert placed(constraint, nodes=nodes, ctx=context(operations=facts(in_window_now=True))) == [
        ("pass", "db")
    ]
    snap = snapshot(nodes=nodes, services=[service("db", constraints=[constraint])])
    [message] = messages(
        "rollout.constraints-satisfiable", snap, context(operations=facts(in_window_now=True))
    )
    assert "w1, drained or down inside a maintenance window (it comes back)" in message


# --- item 8: config.sensitive-host-path and security.docker-socket -----------------------------


def bound(source, target="/host"):
    return svc(mounts=[Mount("bind", source, target)])


@pytest.mark.parametrize(
    "source",
    [
        "/",
        "/var/run",
        "/run/",
        "//var//run",
        "/var",
        "/srv/../var/run",
        "/var/run/docker.sock",
    ],
)
def test_it_finds_the_socket_behind_its_parents(source):
    assert run("security.docker-socket", bound(source)) == [("fail", "web")]
    assert run("config.sensitive-host-path", bound(source)) == [("fail", "web")]


@pytest.mark.parametrize(
    "source",
    [
        "/var/lib/docker/volumes/x/_data",
        "/var/lib/docker/",
        "/etc/ssh",
        "/root/.ssh/",
        "/root",
        "/home/alice/.ssh",
        "/home/alice",
        "/etc/shadow",
        "/proc/1",
        "/sys/fs/cgroup",
        "/dev/sda",
        "/srv/data/../../etc",
    ],
)
def test_it_finds_sensitive_paths_by_prefix_and_parent(source):
    assert run("config.sensitive-host-path", bound(source)) == [("fail", "web")]


@pytest.mark.parametrize("source", ["/srv/data", "/var/log/app", "/home/alice/data", "/opt/run"])
def test_it_passes_ordinary_host_paths(source):
    assert run("config.sensitive-host-path", bound(source)) == [("pass", "web")]
    assert run("security.docker-socket", bound(source)) == [("pass", "web")]


# --- item 5: images.registry -------------------------------------------------------------------


def from_registry(image, allowed=None):
    policy = Policy() if allowed is None else Policy(allowed_registries=allowed)
    return run("images.registry", svc(image=image), policy=policy)


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/someone/app:1.0",
        "quay.io/someone/app:1.0",
        "public.ecr.aws/someone/app:1.0",
        "registry.gitlab.com/someone/app:1.0",
        "mcr.microsoft.com/dotnet/aspnet:8.0",
        "gcr.io/someone/app:1.0",
        "someone/app:1.0",
    ],
)
def test_it_does_not_take_a_public_registry_for_a_private_one(image):
    assert from_registry(image) == [("fail", "web")]


@pytest.mark.parametrize(
    "image, allowed, status",
    [
        ("registry.example.com.evil.io/app:1", ["registry.example.com"], "fail"),
        ("registry.example.com/app:1", ["registry.example.com"], "pass"),
        ("registry.example.com:5000/app:1", ["registry.example.com:5000"], "pass"),
        ("registry.example.com:5001/app:1", ["registry.example.com:5000"], "fail"),
        ("evil.io/acme/app:1", ["acme/"], "fail"),
        ("acme/app:1", ["acme/"], "pass"),
        ("acmeevil/app:1", ["acme"], "fail"),
        ("ghcr.io/acme/app:1", ["ghcr.io/acme/"], "pass"),
        ("ghcr.io/acmeevil/app:1", ["ghcr.io/acme"], "fail"),
        ("postgres:16.4", ["docker.io/library/"], "pass"),
    ],
)
def test_it_matches_allow_list_entries_on_host_and_path_boundaries(image, allowed, status):
    policy = Policy(allowed_registries=allowed, allow_private_registries=False)
    assert run("images.registry", svc(image=image), policy=policy) == [(status, "web")]


def test_it_still_accepts_a_private_registry_by_default():
    assert from_registry("registry.example.com/team/app:1.0") == [("pass", "web")]


# --- item 6: config.stateful-pinned ------------------------------------------------------------

DATA = Mount("volume", "pgdata", "/var/lib/postgresql/data")
LABELLED = [
    node("m1", "manager", availability="drain"),
    node("w1", labels={"database": "true"}),
    node("w2", labels={"database": "true"}),
    node("w3", labels={"database": "true", "primary": "yes"}),
]


def stateful(*constraints, mounts=(DATA,), nodes=LABELLED):
    snap = snapshot(
        nodes=nodes,
        services=[service("db", constraints=list(constraints), mounts=list(mounts))],
    )
    return run("config.stateful-pinned", snap)


@pytest.mark.parametrize(
    "options",
    [{"type": "nfs", "o": "addr=10.0.0.9,rw", "device": ":/exports/pg"}, {"type": "cifs"}],
)
def test_it_needs_no_pin_for_a_local_volume_on_network_storage(options):
    raw = {
        "Type": "volume",
        "Source": "pgdata",
        "Target": "/data",
        "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": options}},
    }
    mount = normalize._mount(raw)
    assert mount.network_storage
    assert stateful(mounts=[mount]) == []


@pytest.mark.parametrize("pin", ["node.hostname==w1", "Node.ID == id-w2"])
def test_it_counts_a_hostname_or_id_pin(pin):
    assert stateful("node.role==worker", pin) == [("pass", "db")]


def test_it_does_not_count_a_label_several_nodes_have():
    assert stateful("node.labels.database==true") == [("fail", "db")]
    assert stateful("node.labels.database==true", "node.labels.primary==yes") == [("pass", "db")]


def test_it_reads_nfs_options_of_a_compose_volume():
    text = (
        "services:\n  db:\n    image: postgres:16.4\n    volumes: [pgdata:/data]\n"
        "volumes:\n  pgdata:\n    driver_opts: {type: nfs, o: 'addr=10.0.0.9', device: ':/pg'}\n"
    )
    assert run("config.stateful-pinned", linted(text)) == []


# --- item 4: sizing.n-plus-one, per node, shared with the reboot planner -----------------------

MANAGER = node("m1", "manager", availability="drain")


def sized(nodes, services, tasks):
    return snapshot(nodes=nodes, services=services, tasks=tasks)


def big_task_cluster():
    big = service("big", replicas=1, memory_reservation=6 * GIB, cpu_reservation=0.5)
    nodes = [
        MANAGER,
        node("w8", memory_bytes=8 * GIB),
        node("w4a", memory_bytes=4 * GIB),
        node("w4b", memory_bytes=4 * GIB),
    ]
    return sized(nodes, [big], [task(big, "id-w8")])


def test_it_wants_a_task_to_fit_whole_on_one_node():
    # 6 GiB on the 8 GiB worker: the two 4 GiB workers have 8 GiB together but no room for it
    snap = big_task_cluster()
    assert run("sizing.n-plus-one", snap) == [("fail", "lab")]
    [message] = messages("sizing.n-plus-one", snap)
    assert "losing w8: 1 task(s) of big (0.5 CPU, 6.0 GiB each) fit on none of w4a, w4b" in message


def test_it_passes_when_a_node_has_room_for_the_whole_task():
    snap = big_task_cluster()
    snap = sized([*snap.nodes, node("w8b", memory_bytes=8 * GIB)], snap.services, snap.tasks)
    assert run("sizing.n-plus-one", snap) == [("pass", "lab")]


def test_it_only_moves_tasks_where_their_constraints_allow():
    db = service("db", replicas=2, constraints=["node.labels.db==true"], memory_reservation=3 * GIB)
    nodes = [
        MANAGER,
        node("w1", labels={"db": "true"}, memory_bytes=4 * GIB),
        node("w2", labels={"db": "true"}, memory_bytes=4 * GIB),
        node("w3", memory_bytes=16 * GIB),
    ]
    snap = sized(nodes, [db], [task(db, "id-w1"), task(db, "id-w2", slot=2)])
    assert run("sizing.n-plus-one", snap) == [("fail", "lab")]


def test_it_never_moves_global_tasks_and_counts_managers_only_where_allowed():
    agent = service("agent", mode="global", replicas=None, memory_reservation=3 * GIB)
    web = service("web", replicas=1, memory_reservation=3 * GIB, constraints=[])
    nodes = [
        node("m1", "manager", memory_bytes=4 * GIB),
        node("w1", memory_bytes=4 * GIB),
        node("w2", memory_bytes=4 * GIB),
    ]
    tasks = [task(agent, "id-w1"), task(agent, "id-w2", slot=2), task(web, "id-w1", slot=3)]
    # losing w1: its agent task goes with it, web fits on the active manager
    assert run("sizing.n-plus-one", sized(nodes, [agent, web], tasks)) == [("pass", "lab")]
    kept_off = service("web", replicas=1, memory_reservation=3 * GIB)  # node.role==worker
    tasks[2] = task(kept_off, "id-w1", slot=3)
    assert run("sizing.n-plus-one", sized(nodes, [agent, kept_off], tasks)) == [("fail", "lab")]


def test_the_reboot_planner_uses_the_same_computation():
    from maintenance import planner

    plan = planner.plan(big_task_cluster())
    blocked = {b.hostname: b.reasons for b in plan.blocked}
    assert set(blocked) == {"w8"}
    assert any("breaks n+1: 1 task(s) of big" in reason for reason in blocked["w8"])


# --- item 11: small ones -----------------------------------------------------------------------


def test_it_finds_a_flapping_job():
    job = service("migrate", mode="replicated-job", replicas=None)
    failed = [task(job, state="failed", slot=i) for i in range(3)]
    assert run("health.flapping", snapshot(services=[job], tasks=failed)) == [("fail", "migrate")]


def test_it_reads_the_memory_limit_of_the_task_on_the_manager():
    # the service got a limit since, but the task on the manager was started without one
    web = service("web", memory_limit=512 * MIB)
    snap = snapshot(
        nodes=[node("m1", "manager")], services=[web], tasks=[task(web, "id-m1", memory_limit=None)]
    )
    assert run("manager-load.unbounded-on-manager", snap) == [("fail", "web")]
    bounded = [task(web, "id-m1", memory_limit=256 * MIB)]
    snap = snapshot(nodes=snap.nodes, services=[service("web", memory_limit=None)], tasks=bounded)
    assert run("manager-load.unbounded-on-manager", snap) == [("pass", "web")]


MANAGERS = [node("m1", "manager", labels={"zone": "control"}), node("w1")]


@pytest.mark.parametrize(
    "constraint", ["node.hostname==w1", "node.id==id-w1", "node.labels.zone!=control"]
)
def test_it_accepts_hostname_pins_and_label_inequality_as_placement(constraint):
    snap = snapshot(nodes=MANAGERS, services=[service("web", constraints=[constraint])])
    assert run("manager-load.placement", snap) == [("pass", "web")]


def test_it_refuses_a_pin_to_a_manager_and_passes_when_every_manager_is_drained():
    pinned = [service("web", constraints=["node.hostname==m1"])]
    assert run("manager-load.placement", snapshot(nodes=MANAGERS, services=pinned)) == [
        ("fail", "web")
    ]
    free = [service("web", constraints=[])]
    drained = [node("m1", "manager", availability="drain"), node("w1")]
    assert run("manager-load.placement", snapshot(nodes=drained, services=free)) == [
        ("pass", "web")
    ]


@pytest.mark.parametrize(
    "cap", ["SYS_MODULE", "CAP_SYS_PTRACE", "dac_read_search", "BPF", "PERFMON", "SYS_RAWIO"]
)
def test_it_flags_more_dangerous_capabilities(cap):
    assert run("security.capabilities", svc(cap_add=[cap])) == [("fail", "web")]


def test_it_fails_a_memory_reservation_above_the_limit():
    snap = svc(memory_limit=256 * MIB, memory_reservation=512 * MIB)
    assert run("resources.memory-reservation", snap) == [("fail", "web")]
    assert "is above its limit" in messages("resources.memory-reservation", snap)[0]


# --- new rules -------------------------------------------------------------------------------


def test_it_finds_a_service_only_one_node_may_run_and_accepts_a_documented_singleton():
    nodes = [
        node("m1", "manager", availability="drain"),
        node("w1", labels={"db": "true"}),
        node("w2"),
    ]
    tied = service("db", constraints=["node.labels.db==true"])
    assert run("rollout.single-node", snapshot(nodes=nodes, services=[tied])) == [("fail", "db")]
    documented = service(
        "db", constraints=tied.constraints, labels={"watchkeeper.singleton": "true"}
    )
    assert run("rollout.single-node", snapshot(nodes=nodes, services=[documented])) == [
        ("pass", "db")
    ]


def test_it_reads_publish_modes_live_and_in_the_lint():
    raw = {
        "Spec": {"Ports": [{"PublishedPort": 80, "PublishMode": "host"}, {"PublishedPort": 443}]}
    }
    text = (
        "services:\n  web:\n    image: a:1\n    ports:\n      - '443:8443'\n"
        "      - {target: 80, published: 80, mode: host}\n"
    )
    [web] = linted(text).services
    assert (web.published_ports, web.host_ports, web.ingress_ports) == ([80, 443], [80], [443])
    live = normalize.service(
        {"ID": "s1", "Spec": {"Name": "web", "TaskTemplate": {}}, "Endpoint": raw}, {}
    )
    assert (live.published_ports, live.host_ports) == ([80, 443], [80])


def test_it_flags_routing_mesh_ports_only_on_an_isolated_control_plane():
    web = service("web", published_ports=[443])
    isolated = snapshot(services=[web])  # the default managers are drained
    assert run("manager-load.ingress-ports", isolated) == [("fail", "web")]
    shared = snapshot(nodes=[node("m1", "manager"), node("w1")], services=[web])
    assert run("manager-load.ingress-ports", shared) == []
