"""Against the real Swarm lab: add + poll, reboots, failures, concurrency."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from clusters import client, registration, selectors
from clusters.models import Cluster, Node, PollRun, RunningTask, Service
from dashboard import pipeline
from lab import NodeSpec
from lab.demo import create_demo_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def cli(*args):
    out = StringIO()
    call_command("cluster", *args, stdout=out)
    return out.getvalue()


def poll(cluster):
    outcome = pipeline.cluster_poll(cluster=Cluster.objects.get(pk=cluster.pk))
    assert outcome is not None
    return outcome


def test_it_records_nodes_services_and_tasks_as_the_manager_reports_them(clean_swarm_lab):
    lab = clean_swarm_lab
    create_demo_services(lab)
    cli("add", "lab", "--url", lab.docker_host)
    assert "lab: 3 nodes" in cli("poll", "lab")
    nodes = {n.hostname: n for n in Node.objects.all()}
    manager, big, small = nodes["wk-manager-1"], nodes["wk-worker-1"], nodes["wk-worker-2"]
    assert (manager.role, manager.leader, manager.reachability) == ("manager", True, "reachable")
    assert (big.role, big.memory_bytes, small.cpus, small.memory_bytes) == (
        "worker",
        8 * 1024**3,
        1.0,
        2 * 1024**3,
    )
    assert {(n.state, n.availability) for n in nodes.values()} == {("ready", "active")}
    shop = Service.objects.get(name="shop-api")
    assert (shop.replicas, shop.image, shop.constraints) == (
        2,
        "wk-busybox:1.35",
        ["node.role==worker"],
    )
    assert shop.memory_limit == 128 * 1024**2 and shop.healthcheck == ["CMD", "true"]
    on_workers = RunningTask.objects.filter(service=shop, node__role="worker", state="running")
    assert on_workers.count() == 2
    assert RunningTask.objects.filter(node=manager).exists()


def test_it_records_a_worker_restarted_between_polls_as_a_reboot(clean_swarm_lab):
    lab = clean_swarm_lab
    cluster = registration.cluster_add(name="lab", url=lab.docker_host)
    first = poll(cluster).run
    lab.restart_node("wk-worker-2")
    second = poll(cluster).run
    assert second.ok and Node.objects.get(hostname="wk-worker-2").state == "ready"
    reboots = selectors.node_reboots(
        cluster=cluster,
        since=first.started_at,
        until=second.started_at + timedelta(seconds=1),
    )
    assert [r.hostname for r in reboots] == ["wk-worker-2"]
    assert reboots[0].down_at < reboots[0].ready_at


def test_it_fails_clearly_on_a_worker_socket_or_a_missing_socket_and_keeps_going(
    swarm_lab, tmp_path
):
    cluster = registration.cluster_add(name="lab", url=swarm_lab.docker_host)
    good = poll(cluster)
    for url, kind, text in [
        (f"unix://{swarm_lab.node_socket('wk-worker-1')}", "not_manager", "swarm worker"),
        (f"unix://{tmp_path}/gone.sock", "socket_missing", "does not exist"),
    ]:
        Cluster.objects.filter(pk=cluster.pk).update(url=url)
        run = poll(cluster).run
        assert (run.ok, run.error_kind) == (False, kind) and text in run.error
        assert selectors.latest_snapshot(cluster=cluster) == good.snapshot
    Cluster.objects.filter(pk=cluster.pk).update(url=swarm_lab.docker_host)
    assert poll(cluster).run.ok


def test_it_fails_clearly_on_a_wrong_ca_and_a_stopped_manager(make_lab):
    lab = make_lab([NodeSpec("wk-manager-1", "manager", cpus=1, memory_gib=1)], tls=True)
    files = lab.tls_files
    tls = ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    cli("add", "tls", "--url", lab.tls_url, "--tls-ca", str(files.ca), *tls)
    cli("add", "wrongca", "--url", lab.tls_url, "--tls-ca", str(files.cert), *tls)
    assert "tls: 1 nodes" in cli("poll", "tls")
    with pytest.raises(CommandError, match="TLS verification failed.*not signed by the conf"):
        cli("poll", "wrongca")
    tls_cluster = Cluster.objects.get(name="tls")
    kept = selectors.latest_snapshot(cluster=tls_cluster)
    lab.stop_node("wk-manager-1")
    with pytest.raises(CommandError, match=f"Connection refused by {lab.tls_url}"):
        cli("poll", "tls")
    assert selectors.latest_snapshot(cluster=tls_cluster) == kept
    assert PollRun.objects.filter(cluster=tls_cluster, ok=False).count() == 1
    lab.start_node("wk-manager-1")
    assert "tls: 1 nodes" in cli("poll", "tls")


def test_it_runs_one_poll_when_two_start_at_once(swarm_lab):
    cluster = registration.cluster_add(name="lab", url=swarm_lab.docker_host)
    inside, release = threading.Event(), threading.Event()

    def held_fetch(**kwargs):
        inside.set()
        release.wait(30)
        return client.fetch(**kwargs)

    results = []

    def polling():
        try:
            results.append(pipeline.cluster_poll(cluster=cluster, fetch=held_fetch))
        finally:
            connection.close()

    thread = threading.Thread(target=polling)
    thread.start()
    assert inside.wait(30)
    results.append(pipeline.cluster_poll(cluster=Cluster.objects.get(pk=cluster.pk)))
    release.set()
    thread.join(30)
    assert sorted(r is None for r in results) == [False, True]
    assert PollRun.objects.filter(cluster=cluster).count() == 1
