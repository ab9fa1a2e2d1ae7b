"""The Swarm lab: real dockerd nodes in namespaces, as the manager reports them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

from lab import Lab, LabError, NodeSpec, ServiceSpec, ha_nodes
from lab.demo import DEMO_SERVICES, create_demo_services
from lab.services import service_kwargs
from lab.state import load_state
from lab.teardown import cleanup, traces
from lab.tls import make_ca

GIB = 1024**3
REPO = Path(__file__).resolve().parents[2]


def reported_nodes(lab: Lab) -> dict[str, tuple[str, int, int]]:
    """Return hostname -> (role, NanoCPUs, MemoryBytes) as the manager reports them."""
    return {
        n.attrs["Description"]["Hostname"]: (
            n.attrs["Spec"]["Role"],
            n.attrs["Description"]["Resources"]["NanoCPUs"],
            n.attrs["Description"]["Resources"]["MemoryBytes"],
        )
        for n in lab.client().nodes.list()
    }


def no_traces(found: dict[str, list[str]]) -> bool:
    """Tell whether nothing of a lab remains."""
    return not any(found.values())


# -- without a lab -----------------------------------------------------------------------


def test_it_rejects_more_cpus_than_the_machine_has() -> None:
    with pytest.raises(LabError, match="cpus"):
        NodeSpec("big", "worker", cpus=len(os.sched_getaffinity(0)) + 1)


def test_it_requires_a_manager_first() -> None:
    with pytest.raises(LabError, match="manager"):
        Lab([NodeSpec("w", "worker")])


def test_it_maps_a_service_spec_onto_sdk_arguments() -> None:
    spec = ServiceSpec(
        "api",
        replicas=2,
        env={"A": "1"},
        memory_limit=128 * 1024**2,
        cpu_limit=0.5,
        healthcheck=["true"],
        update_config={"failure_action": "rollback", "order": "start-first"},
    )
    kw = service_kwargs(spec)
    assert kw["env"] == ["A=1"]
    assert kw["mode"] == {"replicated": {"Replicas": 2}}
    assert kw["resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 128 * 1024**2}
    assert kw["healthcheck"]["Test"] == ["CMD", "true"]
    assert kw["update_config"]["FailureAction"] == "rollback"


def test_it_has_one_compliant_and_several_misconfigured_demo_services() -> None:
    by_name = {s.name: s for s in DEMO_SERVICES}
    assert by_name["shop-api"].healthcheck and by_name["shop-api"].memory_limit
    assert by_name["legacy-cron"].image.endswith(":latest")
    assert by_name["billing-worker"].env["DB_PASSWORD"] == "hunter2"
    assert any("docker.sock" in m for m in by_name["ops-agent"].mounts)


# -- the default lab ---------------------------------------------------------------------


@pytest.mark.lab
def test_it_brings_the_default_lab_up_in_under_15_seconds(swarm_lab: Lab) -> None:
    assert swarm_lab.up_seconds is not None and swarm_lab.up_seconds < 15


@pytest.mark.lab
def test_it_shapes_hostnames_roles_cpus_and_memory(swarm_lab: Lab) -> None:
    assert reported_nodes(swarm_lab) == {
        "wk-manager-1": ("manager", 2_000_000_000, 4 * GIB),
        "wk-worker-1": ("worker", 2_000_000_000, 8 * GIB),
        "wk-worker-2": ("worker", 1_000_000_000, 2 * GIB),
    }


@pytest.mark.lab
def test_it_runs_service_tasks_for_real(clean_swarm_lab: Lab) -> None:
    lab = clean_swarm_lab
    service = lab.create_service(ServiceSpec("web", replicas=3, healthcheck=["true"]))
    lab.wait_converged(service, timeout=30)
    tasks = service.tasks(filters={"desired-state": "running"})
    assert [t["Status"]["State"] for t in tasks] == ["running"] * 3


@pytest.mark.lab
def test_it_drains_and_activates_a_node(clean_swarm_lab: Lab) -> None:
    lab = clean_swarm_lab
    lab.drain("wk-worker-1")
    assert lab.swarm_node("wk-worker-1").attrs["Spec"]["Availability"] == "drain"
    lab.activate("wk-worker-1")
    assert lab.swarm_node("wk-worker-1").attrs["Spec"]["Availability"] == "active"


@pytest.mark.lab
def test_it_shows_a_worker_restart_as_node_events(swarm_lab: Lab) -> None:
    since = time.time() - 1
    swarm_lab.restart_node("wk-worker-2")
    events = swarm_lab.client().events(
        since=since, until=time.time() + 1, filters={"type": "node"}, decode=True
    )
    changes = [
        (e["Actor"]["Attributes"].get("state.old"), e["Actor"]["Attributes"].get("state.new"))
        for e in events
        if e["Action"] == "update" and e["Actor"]["Attributes"].get("name") == "wk-worker-2"
    ]
    assert ("ready", "down") in changes
    assert ("down", "ready") in changes
    assert changes.index(("ready", "down")) < changes.index(("down", "ready"))


@pytest.mark.lab
def test_it_keeps_labs_whose_owner_is_alive(swarm_lab: Lab) -> None:
    report = cleanup(detached=False)
    assert swarm_lab.prefix in report.kept
    assert swarm_lab.node_state("wk-manager-1") == "ready"


# -- other layouts -----------------------------------------------------------------------


@pytest.mark.lab
def test_it_builds_three_managers_and_three_workers(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(ha_nodes())
    roles = [role for role, _, _ in reported_nodes(lab).values()]
    assert sorted(roles) == ["manager"] * 3 + ["worker"] * 3
    nodes = lab.client().nodes.list()
    leaders = [n for n in nodes if n.attrs.get("ManagerStatus", {}).get("Leader")]
    assert len(leaders) == 1


@pytest.mark.lab
def test_it_serves_tls_with_lab_certificates(
    make_lab: Callable[..., Lab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets REQUESTS_CA_BUNDLE override the CA the docker SDK sets on its session.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    lab = make_lab([NodeSpec("wk-tls-1", "manager"), NodeSpec("wk-tls-2", "worker")], tls=True)
    files = lab.tls_files
    good = docker.tls.TLSConfig(
        client_cert=(str(files.cert), str(files.key)), ca_cert=str(files.ca), verify=True
    )
    client = docker.DockerClient(base_url=lab.tls_url, tls=good, version="auto", timeout=10)
    assert client.info()["Swarm"]["NodeAddr"] == lab.node_addr("wk-tls-1")
    assert len(client.nodes.list()) == 2

    wrong_ca = make_ca(tmp_path / "other", cn="not-the-lab")
    bad = docker.tls.TLSConfig(
        client_cert=(str(files.cert), str(files.key)), ca_cert=str(wrong_ca), verify=True
    )
    with pytest.raises(DockerException, match="CERTIFICATE_VERIFY_FAILED"):
        docker.DockerClient(base_url=lab.tls_url, tls=bad, version="auto", timeout=10)


@pytest.mark.lab
def test_it_creates_the_demo_services(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    create_demo_services(lab, timeout=60)
    names = {s.name for s in lab.client().services.list()}
    assert names == {s.name for s in DEMO_SERVICES}


# -- teardown ----------------------------------------------------------------------------


@pytest.mark.lab
def test_it_leaves_nothing_behind(swarm_lab: Lab) -> None:
    lab = Lab([NodeSpec("wk-gone-1", "manager"), NodeSpec("wk-gone-2", "worker")]).up()
    prefix, dirs = lab.prefix, lab.dirs
    try:
        lab.wait_converged(lab.create_service(ServiceSpec("busy", replicas=2)))
        assert traces(prefix, dirs)["pids"]
    finally:
        lab.down()
    assert traces(prefix, dirs) == {"netns": [], "links": [], "mounts": [], "pids": [], "files": []}
    assert swarm_lab.node_state("wk-manager-1") == "ready"


CRASHING_OWNER = """
import os, sys
from lab import Lab, NodeSpec, ServiceSpec
lab = Lab([NodeSpec("wk-crash-1", "manager"), NodeSpec("wk-crash-2", "worker")], tls=True).up()
lab.wait_converged(lab.create_service(ServiceSpec("busy", replicas=2)))
print(lab.prefix, flush=True)
os.kill(os.getpid(), 9)
"""


@pytest.mark.lab
def test_it_removes_the_leftovers_of_a_crashed_owner(lab_host: None) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_OWNER],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    prefix = proc.stdout.strip()
    state = load_state(prefix)
    dirs = [state.run_dir, state.data_dir]
    assert traces(prefix, dirs)["pids"]

    report = cleanup(detached=False)

    assert prefix not in report.kept  # removed here, or by a concurrent session's cleanup
    assert no_traces(traces(prefix, dirs)), traces(prefix, dirs)


@pytest.mark.parametrize(
    ("root_line", "locked"),
    [("root:!:19000:0:99999:7:::", True), ("root:!*:19000::::::", True),
     ("root:*:19000:0:99999:7:::", False), ("root:$y$j9T$abc:19000::::::", False)],
)  # fmt: skip
def test_it_knows_when_sshd_would_refuse_a_locked_root(tmp_path, root_line, locked) -> None:
    from lab.sshd import root_locked

    shadow = tmp_path / "shadow"
    shadow.write_text(f"daemon:!:19000::::::\n{root_line}\nnobody:!:19000::::::\n")
    assert root_locked(shadow) is locked
    assert root_locked(tmp_path / "missing") is False
