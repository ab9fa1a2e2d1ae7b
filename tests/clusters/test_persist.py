"""One bulk, transactional persist: upserts, removal history, transitions, statement count."""

import copy
import zlib
from datetime import timedelta

import orjson
import pytest

from clusters import normalize, persistence, selectors
from clusters.models import Node, NodeTransition, PollRun, PollSnapshot, RunningTask, Service
from tests.clusters.conftest import recorded_now


def persist(cluster, raw, now=None, reuse=None):
    now = now or recorded_now(raw)
    snapshot = normalize.snapshot(raw, now=now, reuse=reuse)
    run, transitions = persistence.poll_persist(
        cluster=cluster, snapshot=snapshot, started_at=now, duration_ms=5, events_until=now
    )
    return run, transitions


@pytest.mark.django_db
def test_it_upserts_nodes_services_and_running_tasks(cluster, poll1):
    run, _ = persist(cluster, poll1)
    later = recorded_now(poll1) + timedelta(minutes=1)
    persist(cluster, poll1, later)
    assert Node.objects.filter(cluster=cluster).count() == 3
    assert Service.objects.filter(cluster=cluster).count() == 5
    worker = Node.objects.get(hostname="wk-worker-1")
    assert (worker.role, worker.cpus, worker.memory_bytes) == ("worker", 2.0, 8 * 1024**3)
    cluster.refresh_from_db()
    assert worker.first_seen_at == recorded_now(poll1) and worker.seen_at(cluster) == later
    shop = Service.objects.get(name="shop-api")
    assert (shop.replicas, shop.constraints, shop.healthcheck) == (
        2,
        ["node.role==worker"],
        ["CMD", "true"],
    )
    assert RunningTask.objects.filter(cluster=cluster).count() == 6
    assert RunningTask.objects.filter(service=shop, node__role="worker").count() == 2
    assert (run.ok, run.nodes, run.services, run.tasks) == (True, 3, 5, 5)


@pytest.mark.django_db
def test_it_marks_removed_nodes_and_services_and_keeps_their_history(cluster, poll1):
    first = recorded_now(poll1)
    persist(cluster, poll1)
    persist(cluster, poll1, first + timedelta(minutes=1))  # the last poll that sees them
    later = copy.deepcopy(poll1)
    later["nodes"] = [n for n in later["nodes"] if n["Description"]["Hostname"] != "wk-worker-2"]
    later["services"] = [s for s in later["services"] if s["Spec"]["Name"] != "legacy-cron"]
    persist(cluster, later, first + timedelta(minutes=2))
    persist(cluster, later, first + timedelta(minutes=3))  # not marked again
    gone = Node.objects.get(hostname="wk-worker-2")
    cron = Service.objects.get(name="legacy-cron")
    assert gone.removed_at == cron.removed_at == first + timedelta(minutes=2)
    assert gone.last_seen_at == cron.last_seen_at == first + timedelta(minutes=1)
    cluster.refresh_from_db()
    assert gone.seen_at(cluster) == first + timedelta(minutes=1)
    assert Node.objects.filter(removed_at__isnull=True).count() == 2
    persist(cluster, poll1, first + timedelta(minutes=4))
    back = Node.objects.get(hostname="wk-worker-2")
    assert back.removed_at is None and back.last_seen_at == first + timedelta(minutes=4)
    assert back.first_seen_at == first  # its history is kept, not started again
    assert Service.objects.get(name="legacy-cron").removed_at is None


@pytest.mark.django_db
def test_it_records_a_reboot_from_node_events_even_when_back_before_the_poll(cluster, poll1, poll2):
    persist(cluster, poll1)
    _, transitions = persist(cluster, poll2)
    assert [(t.from_state, t.to_state, t.source) for t in transitions] == [
        ("ready", "down", "event"),
        ("down", "ready", "event"),
    ]
    reboots = selectors.node_reboots(
        cluster=cluster,
        since=recorded_now(poll1),
        until=recorded_now(poll2) + timedelta(seconds=1),
    )
    assert [r.hostname for r in reboots] == ["wk-worker-2"]
    assert reboots[0].down_at < reboots[0].ready_at
    persist(cluster, poll2, recorded_now(poll2) + timedelta(seconds=30))  # replayed events
    assert NodeTransition.objects.count() == 2


@pytest.mark.django_db
def test_it_records_transitions_from_states_across_polls(cluster, poll1):
    persist(cluster, poll1)
    down = copy.deepcopy(poll1)
    down["events"] = []
    for node in down["nodes"]:
        if node["Description"]["Hostname"] == "wk-worker-1":
            node["Status"]["State"] = "down"
    persist(cluster, down, recorded_now(poll1) + timedelta(minutes=1))
    up = copy.deepcopy(poll1)
    up["events"] = []
    persist(cluster, up, recorded_now(poll1) + timedelta(minutes=2))
    transitions = list(NodeTransition.objects.values_list("from_state", "to_state", "source"))
    assert transitions == [("ready", "down", "poll"), ("down", "ready", "poll")]
    reboots = selectors.node_reboots(
        cluster=cluster,
        since=recorded_now(poll1),
        until=recorded_now(poll1) + timedelta(minutes=3),
    )
    assert [(r.hostname, r.ready_at - r.down_at) for r in reboots] == [
        ("wk-worker-1", timedelta(minutes=1))
    ]


@pytest.mark.django_db
def test_it_keeps_the_snapshot_compressed(cluster, poll1):
    run, _ = persist(cluster, poll1)
    stored = PollSnapshot.objects.get(poll_run=run)
    assert zlib.decompress(bytes(stored.data))
    latest = selectors.latest_snapshot(cluster=cluster)
    assert latest == normalize.snapshot(poll1, now=recorded_now(poll1))
    assert PollRun.objects.get().events_until == recorded_now(poll1)


@pytest.mark.django_db
def test_the_stored_swarm_is_read_from_the_head_of_the_data(cluster, poll1):
    persist(cluster, synthetic(poll1, nodes=3_000, services_count=3_000))
    stored = PollSnapshot.objects.get()
    assert len(zlib.decompress(bytes(stored.data))) > 1024**2  # far beyond the head read
    assert stored.load_swarm() == stored.load().swarm
    assert stored.load_swarm().cluster_id  # a real SwarmInfo, not the default
    assert selectors.latest_swarm(cluster=cluster) == stored.load().swarm


@pytest.mark.django_db
def test_stored_data_of_another_shape_is_loaded_whole_for_its_swarm(cluster, poll1):
    run, _ = persist(cluster, poll1)
    stored = PollSnapshot.objects.get(poll_run=run)
    swarm = stored.load().swarm
    data = orjson.loads(zlib.decompress(bytes(stored.data)))
    stored.data = zlib.compress(orjson.dumps({"nodes": data.pop("nodes"), **data}))
    assert stored.load_swarm() == swarm


def synthetic(raw, nodes: int, services_count: int):
    """RAW with its nodes and services cloned up to the given counts."""
    out = copy.deepcopy(raw)
    out["nodes"] = [dict(raw["nodes"][i % 3], ID=f"node{i}") for i in range(nodes)]
    out["services"] = []
    for i in range(services_count):
        svc = copy.deepcopy(raw["services"][i % 5])
        svc["ID"] = f"svc{i}"
        svc["Spec"]["Name"] = f"svc-{i}"
        out["services"].append(svc)
    out["tasks_running"] = [
        dict(raw["tasks_running"][0], ID=f"t{i}", NodeID=f"node{i % nodes}", ServiceID=f"svc{i}")
        for i in range(services_count)
    ]
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("size", [(3, 5), (60, 200)])
def test_it_uses_a_constant_number_of_statements(
    cluster, poll1, size, django_assert_max_num_queries
):
    raw = synthetic(poll1, *size)
    persist(cluster, raw)
    with django_assert_max_num_queries(13):
        persist(cluster, raw, recorded_now(poll1) + timedelta(minutes=1))


@pytest.mark.django_db
def test_it_rewrites_only_rows_whose_fields_changed(cluster, poll1):
    persist(cluster, poll1)
    worker = Node.objects.get(hostname="wk-worker-1")
    shop = Service.objects.get(name="shop-api")
    Node.objects.filter(pk=worker.pk).update(engine_version="marker")  # digest left as it was
    persist(cluster, poll1, recorded_now(poll1) + timedelta(minutes=1))
    assert Node.objects.get(pk=worker.pk).engine_version == "marker"  # unchanged: not rewritten
    later = copy.deepcopy(poll1)
    node = next(n for n in later["nodes"] if n["Description"]["Hostname"] == "wk-worker-1")
    node["Spec"]["Labels"] = {"zone": "b", "<script>": "x"}
    service = next(s for s in later["services"] if s["Spec"]["Name"] == "shop-api")
    service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] = ["node.labels.zone==b"]
    persist(cluster, later, recorded_now(poll1) + timedelta(minutes=2))
    worker.refresh_from_db()
    shop.refresh_from_db()
    assert worker.labels == {"zone": "b", "<script>": "x"}
    assert shop.constraints == ["node.labels.zone==b"]
    assert worker.digest and worker.digest != Node.objects.get(hostname="wk-worker-2").digest


@pytest.mark.django_db
def test_it_stores_services_taken_over_from_the_previous_poll_as_they_are(cluster, poll1):
    """Reused Service objects keep their stored row and digest; a new version is written."""
    reuse = normalize.Reuse()
    persist(cluster, poll1, reuse=reuse)
    Service.objects.filter(name="legacy-cron").update(image="marker")  # digest left as it was
    persist(cluster, copy.deepcopy(poll1), recorded_now(poll1) + timedelta(minutes=1), reuse)
    assert reuse.hits and Service.objects.get(name="legacy-cron").image == "marker"  # not rewritten
    later = copy.deepcopy(poll1)
    service = next(s for s in later["services"] if s["Spec"]["Name"] == "shop-api")
    service["Version"]["Index"] += 1
    service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] = ["node.labels.zone==c"]
    persist(cluster, later, recorded_now(poll1) + timedelta(minutes=2), reuse)
    assert Service.objects.get(name="shop-api").constraints == ["node.labels.zone==c"]
    assert Service.objects.get(name="legacy-cron").image == "marker"


@pytest.mark.django_db
def test_values_with_array_syntax_are_stored_exactly(cluster, poll1):
    odd = 'a "quoted" {brace,comma} back\\slash NULL'
    raw = copy.deepcopy(poll1)
    raw["nodes"][0]["Description"]["Hostname"] = odd
    raw["nodes"][0]["Spec"]["Labels"] = {odd: odd, "empty": ""}
    raw["services"][0]["Spec"]["Name"] = "NULL"
    raw["services"][0]["Spec"]["TaskTemplate"]["Placement"] = {"Constraints": [odd]}
    persist(cluster, raw)
    node = Node.objects.get(cluster=cluster, hostname=odd)
    assert node.labels == {odd: odd, "empty": ""}
    service = Service.objects.get(cluster=cluster, swarm_id=raw["services"][0]["ID"])
    assert (service.name, service.constraints) == ("NULL", [odd])
    assert Node.objects.filter(cluster=cluster, reachability="").exists()  # "" is not NULL
