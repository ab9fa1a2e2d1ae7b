"""Pure normalisation: raw Engine API JSON recorded from the lab -> Snapshot (no database)."""

import json
from datetime import UTC, datetime

import pytest

from clusters import normalize
from clusters.snapshot import from_dict, to_dict
from tests.clusters.conftest import recorded_now

GIB = 1024**3


def snap(raw):
    return normalize.snapshot(raw, now=recorded_now(raw))


def test_it_records_every_node_as_the_manager_reports_it(poll1):
    nodes = {n.hostname: n for n in snap(poll1).nodes}
    assert set(nodes) == {"wk-manager-1", "wk-worker-1", "wk-worker-2"}
    manager, big, small = nodes["wk-manager-1"], nodes["wk-worker-1"], nodes["wk-worker-2"]
    assert (manager.role, manager.leader, manager.reachability) == ("manager", True, "reachable")
    assert (manager.cpus, manager.memory_bytes) == (2.0, 4 * GIB)
    assert (big.role, big.cpus, big.memory_bytes) == ("worker", 2.0, 8 * GIB)
    assert (small.cpus, small.memory_bytes) == (1.0, 2 * GIB)
    assert small.reachability is None and not small.leader
    assert all(n.state == "ready" and n.availability == "active" for n in nodes.values())
    assert manager.engine_version.startswith("20.") and manager.os == "linux"


def test_it_records_services_with_replicas_image_constraints_limits_and_healthcheck(poll1):
    services = {s.name: s for s in snap(poll1).services}
    shop = services["shop-api"]
    assert shop.mode == "replicated" and shop.replicas == 2
    assert shop.running_tasks == 2 and shop.desired_tasks == 2
    assert shop.image == "wk-busybox:1.35"
    assert shop.constraints == ["node.role==worker"]
    assert shop.memory_limit == 128 * 1024**2 and shop.memory_reservation == 64 * 1024**2
    assert shop.cpu_limit == 0.5
    assert shop.healthcheck == ["CMD", "true"]
    assert shop.update_config.failure_action == "rollback"
    assert shop.update_config.order == "start-first"
    assert shop.restart_condition == "on-failure"
    assert services["legacy-cron"].healthcheck is None
    assert services["legacy-cron"].memory_limit is None
    assert services["reports-batch"].running_tasks == 0
    ops = services["ops-agent"]
    assert [m.target for m in ops.mounts] == ["/var/run/docker.sock", "/host-tmp"]
    assert ops.mounts[0].type == "bind" and ops.cap_add == ["NET_ADMIN"]


def test_it_keeps_env_by_name_only_and_flags_secret_like_literals(poll1):
    billing = next(s for s in snap(poll1).services if s.name == "billing-worker")
    env = {e.name: e for e in billing.env}
    assert env["DB_PASSWORD"].secret_like and env["DB_PASSWORD"].literal
    assert not env["DB_HOST"].secret_like and env["DB_HOST"].literal
    assert "scrubbed" not in json.dumps(to_dict(snap(poll1)))


@pytest.mark.parametrize(
    ("item", "secret_like", "literal", "private_key"),
    [
        ("DB_PASSWORD=hunter2", True, True, False),
        ("DB_PASSWORD_FILE=/run/secrets/db", False, True, False),
        ("GITHUB_TOKEN=", True, False, False),
        ("api_key=abc", True, True, False),
        ("AWS_ACCESS_KEY_ID=AKIA", True, True, False),
        ("Bearer_header=x", True, True, False),
        ("TLS=-----BEGIN RSA PRIVATE KEY-----\nabc", False, True, True),
        ("MODE", False, False, False),
        ("REF={{.Node.Hostname}}", False, False, False),
    ],
)
def test_it_flags_env_vars(item, secret_like, literal, private_key):
    var = normalize.env_var(item)
    assert (var.secret_like, var.literal, var.private_key) == (secret_like, literal, private_key)
    assert var.name == item.split("=")[0]


def test_it_keeps_running_tasks_per_node(poll1):
    s = snap(poll1)
    per_node = {}
    for t in s.running_tasks():
        host = s.node_by_id()[t.node_id].hostname
        per_node[host] = per_node.get(host, 0) + 1
    assert set(per_node) <= {"wk-manager-1", "wk-worker-1", "wk-worker-2"}
    shop = next(x for x in s.services if x.name == "shop-api")
    shop_nodes = {s.node_by_id()[t.node_id].role for t in s.tasks if t.service_id == shop.id}
    assert shop_nodes == {"worker"}


def test_it_keeps_secret_and_config_metadata_never_data(poll1):
    poll1["configs"][0]["Spec"]["Data"] = "bGV2ZWw9ZGVidWc="
    s = snap(poll1)
    assert [c.name for c in s.configs] == ["app_config"]
    assert [x.name for x in s.secrets] == ["db_password"]
    assert "bGV2ZWw9ZGVidWc" not in json.dumps(to_dict(s))


def test_it_reads_node_events_with_their_states(poll2):
    s = snap(poll2)
    node_events = [e for e in s.events if e.type == "node"]
    worker2 = next(n for n in s.nodes if n.hostname == "wk-worker-2")
    assert [(e.attributes["state.old"], e.attributes["state.new"]) for e in node_events] == [
        ("ready", "down"),
        ("down", "ready"),
    ]
    assert {e.actor_id for e in node_events} == {worker2.id}
    assert node_events[0].time < node_events[1].time
    assert not s.events_truncated


def test_it_says_when_the_event_buffer_may_have_overflowed(poll1):
    poll1["events"] = poll1["events"] * 10
    assert snap(poll1).events_truncated


def test_it_keeps_failed_tasks_of_the_last_hour_only(poll1):
    now = recorded_now(poll1)
    base = poll1["tasks_running"][0]
    recent = dict(base, ID="recent", DesiredState="shutdown")
    recent["Status"] = dict(base["Status"], State="failed", Err="exit 1", Timestamp=_ts(now, -60))
    old = dict(base, ID="old", DesiredState="shutdown")
    old["Status"] = dict(base["Status"], State="failed", Timestamp=_ts(now, -7200))
    poll1["tasks_shutdown"] = [recent, old]
    failed = [t for t in snap(poll1).tasks if t.state == "failed"]
    assert [(t.id, t.error) for t in failed] == [("recent", "exit 1")]


def _ts(now, seconds):
    return datetime.fromtimestamp(now.timestamp() + seconds, tz=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%f123Z"
    )


def test_it_reads_the_swarm_section_without_join_tokens(poll1):
    poll1["info"]["Swarm"]["Cluster"]["JoinTokens"] = {"Worker": "SWMTKN-1-secret"}
    s = snap(poll1)
    assert s.swarm.control_available and s.swarm.managers == 1 and s.swarm.nodes == 3
    assert s.swarm.node_cert_expiry_ns == 7776000000000000
    assert s.swarm.default_log_driver == "json-file"
    assert "SWMTKN" not in json.dumps(to_dict(s))


def test_it_round_trips_through_to_dict(poll2):
    s = snap(poll2)
    assert from_dict(json.loads(json.dumps(to_dict(s)))) == s


def test_it_parses_engine_timestamps_with_nanoseconds():
    assert normalize.parse_time("2026-11-22T03:20:21.782606131Z") == datetime(
        2026, 11, 22, 3, 20, 21, 782606, tzinfo=UTC
    )
    assert normalize.parse_time("0001-01-01T00:00:00Z") is None
    assert normalize.parse_time("2026-11-22T04:20:21+01:00").hour == 3
    assert normalize.parse_time("2026-11-22T03:20:21.9999999Z").microsecond == 999999
    assert normalize.parse_time("2026-11-22T04:20:21+01:00Z").hour == 3
    assert normalize.parse_time("2026-11-22T25:20:21Z") is None
    assert normalize.parse_time("not a timeZ") is None


def test_it_rejects_malformed_json(poll1):
    poll1["nodes"] = [{"no": "id"}]
    with pytest.raises(normalize.MalformedResponse):
        snap(poll1)


@pytest.mark.parametrize("where", ["event time", "node memory", "manager count"])
def test_it_rejects_numbers_out_of_range(poll1, where):
    if where == "event time":
        poll1["events"][0]["timeNano"] = 10**30
    elif where == "node memory":
        poll1["nodes"][0]["Description"]["Resources"]["MemoryBytes"] = float("inf")
    else:
        poll1["info"]["Swarm"]["Managers"] = float("inf")
    with pytest.raises(normalize.MalformedResponse):
        snap(poll1)


def test_it_replaces_nul_characters_that_postgresql_cannot_store(poll1):
    raw = json.loads(json.dumps(poll1))
    raw["nodes"][0]["Spec"]["Labels"] = {"note\x00": "a\x00b"}
    raw["services"][0]["Spec"]["Labels"] = {"ctl": "\x1b[2J\x00"}
    labels = {n.hostname: n.labels for n in snap(raw).nodes}
    assert labels[raw["nodes"][0]["Description"]["Hostname"]] == {"note\ufffd": "a\ufffdb"}
    assert "\\u0000" not in json.dumps(to_dict(snap(raw)))  # json.dumps writes NUL escaped
    assert normalize.without_nul(poll1) is poll1  # nothing to replace: nothing copied


def test_a_fetch_that_saw_no_nul_leaves_only_events_and_images_to_search(poll1):
    raw = json.loads(json.dumps(poll1))
    raw["events"][0]["Actor"]["Attributes"]["name"] = "ev\x00"
    raw["images"] = {"app:1": {"Config": {"Healthcheck": {"Test": ["CMD", "t\x00"]}}}}
    raw["services"][0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "app:1"
    raw["nodes"][0]["Spec"]["Labels"] = {"note": "a\x00b"}  # the fetch would have said so
    checked = snap(dict(raw, nul_free=True))
    assert checked.events and "\\u0000" not in json.dumps(to_dict(checked.events))
    assert checked.images == {"app:1": ["CMD", "t\ufffd"]}
    assert {"note": "a\x00b"} in [n.labels for n in checked.nodes]  # trusted: not searched
    assert "\\u0000" not in json.dumps(to_dict(snap(raw)))  # without the flag: everything


# --- reuse across polls (normalize.Reuse) ---------------------------------------------------


def test_it_reuses_services_and_tasks_whose_version_is_unchanged(poll1):
    reuse = normalize.Reuse()
    first = normalize.snapshot(poll1, now=recorded_now(poll1), reuse=reuse)
    assert reuse.hits == 0 and reuse.tasks and reuse.services
    again = normalize.snapshot(json.loads(json.dumps(poll1)), now=recorded_now(poll1), reuse=reuse)
    assert again == first
    assert reuse.hits == len(reuse.tasks) + len(reuse.services)
    assert all(a is b for a, b in zip(again.services, first.services, strict=True))


def test_it_rebuilds_what_changed_and_gives_the_same_snapshot_as_without_reuse(poll1, poll2):
    reuse = normalize.Reuse()
    normalize.snapshot(poll1, now=recorded_now(poll1), reuse=reuse)
    with_reuse = normalize.snapshot(poll2, now=recorded_now(poll2), reuse=reuse)
    assert with_reuse == normalize.snapshot(poll2, now=recorded_now(poll2))
    assert reuse.hits < len(reuse.tasks) + len(reuse.services)  # the lab changed between polls


def test_a_new_version_of_a_task_is_built_again(poll1):
    reuse = normalize.Reuse()
    normalize.snapshot(poll1, now=recorded_now(poll1), reuse=reuse)
    changed = json.loads(json.dumps(poll1))
    task = changed["tasks_running"][0]
    task["Status"]["State"] = "failed"
    task["Version"]["Index"] += 1
    result = normalize.snapshot(changed, now=recorded_now(changed), reuse=reuse)
    assert next(t for t in result.tasks if t.id == task["ID"]).state == "failed"


def test_a_service_whose_running_count_changed_is_built_again(poll1):
    reuse = normalize.Reuse()
    normalize.snapshot(poll1, now=recorded_now(poll1), reuse=reuse)
    changed = json.loads(json.dumps(poll1))
    service = next(s for s in changed["services"] if s["Spec"]["Name"] == "shop-api")
    service["ServiceStatus"]["RunningTasks"] = 1  # computed per request: same version
    result = normalize.snapshot(changed, now=recorded_now(changed), reuse=reuse)
    assert next(s for s in result.services if s.name == "shop-api").running_tasks == 1


def test_objects_without_a_version_are_always_built(poll1):
    bare = json.loads(json.dumps(poll1))
    for item in bare["services"] + bare["tasks_running"]:
        item.pop("Version", None)
    reuse = normalize.Reuse()
    normalize.snapshot(bare, now=recorded_now(bare), reuse=reuse)
    normalize.snapshot(bare, now=recorded_now(bare), reuse=reuse)
    assert reuse.hits == 0 and not reuse.tasks


def test_it_keeps_join_token_fingerprints_and_their_first_sighting_never_the_tokens():
    from clusters import client

    raw_swarm = {
        "JoinTokens": {"Worker": "SWMTKN-1-worker-secret", "Manager": "SWMTKN-1-manager-secret"},
        "Spec": {"TaskDefaults": {"LogDriver": {"Name": "gelf"}}},
    }
    kept = client.swarm_without_tokens(raw_swarm)
    assert "SWMTKN" not in json.dumps(kept)
    info = {"Swarm": {"Cluster": {"ID": "c"}}}
    first_at = datetime(2026, 1, 1, tzinfo=UTC)
    first = normalize.swarm_info(info, None, kept, now=first_at)
    assert first.task_log_driver == "gelf" and len(first.worker_token_fingerprint) == 16
    later = normalize.swarm_info(
        info, None, kept, previous=first, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    assert later.worker_token_seen_since == first_at == later.manager_token_seen_since
    rotated = client.swarm_without_tokens(
        dict(raw_swarm, JoinTokens={"Worker": "SWMTKN-1-new", "Manager": "SWMTKN-1-manager-secret"})
    )
    after = normalize.swarm_info(
        info, None, rotated, previous=later, now=datetime(2026, 9, 2, tzinfo=UTC)
    )
    assert after.worker_token_seen_since == datetime(2026, 9, 2, tzinfo=UTC)
    assert after.manager_token_seen_since == first_at


def test_it_keeps_image_health_checks_by_reference_and_the_update_start():
    assert normalize.image_healthchecks(
        {"a:1": {"Config": {"Healthcheck": {"Test": ["CMD", "true"]}}}, "b:1": {"Config": {}}}
    ) == {"a:1": ["CMD", "true"], "b:1": []}
    svc = normalize.service(
        {
            "ID": "s",
            "Spec": {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "a:1"}}},
            "UpdateStatus": {"State": "updating", "StartedAt": "2026-11-22T10:00:00Z"},
        },
        {},
    )
    assert svc.update_started_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
