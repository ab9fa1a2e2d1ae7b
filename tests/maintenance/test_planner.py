"""The rolling reboot plan on hand-built snapshots: pure code."""

from types import SimpleNamespace

from maintenance import planner
from readiness.policy import Policy
from readiness.rules.sizing import n_plus_one

from .factories import node, service, snapshot, tasks


def hostnames(plan):
    return [step.hostname for step in plan.steps]


def blocked(plan):
    return {b.hostname: b.reasons for b in plan.blocked}


def test_it_reboots_workers_first_then_managers_leader_last():
    web = service("web", replicas=3)
    snap = snapshot(
        [
            node("m-2", "manager"),
            node("m-1", "manager", leader=True),
            node("m-3", "manager"),
            node("w-2"),
            node("w-1"),
        ],
        [web],
        tasks(web, "w-1", "w-2", "w-2"),
    )
    plan = planner.plan(snap)
    assert hostnames(plan) == ["w-1", "w-2", "m-2", "m-3", "m-1"]
    assert plan.blocked == []


def test_it_never_takes_a_service_to_zero_running_tasks():
    db = service("db", replicas=1)
    web = service("web", replicas=2)
    snap = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")],
        [db, web],
        tasks(db, "w-1") + tasks(web, "w-1", "w-2"),
    )
    plan = planner.plan(snap)
    assert hostnames(plan) == ["w-2", "m-1"]
    assert blocked(plan) == {"w-1": ["takes service db to zero running tasks"]}


def test_it_never_reboots_a_manager_while_another_is_unreachable():
    snap = snapshot(
        [
            node("m-1", "manager", leader=True),
            node("m-2", "manager", reachability="unreachable", state="down"),
            node("m-3", "manager"),
            node("w-1"),
        ]
    )
    plan = planner.plan(snap)
    assert hostnames(plan) == ["w-1"]
    reasons = blocked(plan)
    assert reasons["m-1"] == ["another manager is unreachable: m-2"]
    assert reasons["m-3"] == ["another manager is unreachable: m-2"]
    assert "node is down, not ready" in reasons["m-2"]


def test_it_never_breaks_n_plus_one():
    api = service("api", replicas=3, memory_gib=4)
    snap = snapshot(
        [
            node("m-1", "manager", availability="drain"),
            node("w-1", memory_gib=8),
            node("w-2", memory_gib=8),
        ],
        [api],
        tasks(api, "w-1", "w-1", "w-2"),
    )
    # 12 GiB reserved; the manager takes no tasks, so losing either worker leaves 8 GiB
    plan = planner.plan(snap)
    reasons = blocked(plan)
    assert set(reasons) == {"w-1", "w-2"}
    assert all("breaks n+1" in r[0] for r in reasons.values())
    assert hostnames(plan) == ["m-1"]


def sizing_n_plus_one_passes(snap) -> bool:
    (outcome,) = n_plus_one(snap, Policy(), SimpleNamespace(cluster_name="prod"))
    return outcome.passed


def test_it_counts_active_managers_as_room_like_sizing_n_plus_one():
    # 12 GiB reserved on two 8 GiB workers; the active 8 GiB manager takes tasks too, so
    # losing a worker leaves 16 GiB: the rule passes and the workers may be rebooted.
    api = service("api", replicas=3, memory_gib=4)
    snap = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")], [api], tasks(api, "w-1", "w-1", "w-2")
    )
    assert sizing_n_plus_one_passes(snap)
    plan = planner.plan(snap)
    assert hostnames(plan) == ["w-1", "w-2", "m-1"]
    assert plan.blocked == []


def test_it_reboots_managers_of_a_managers_only_swarm_when_the_others_have_room():
    api = service("api", replicas=3, cpu=0.5, memory_gib=2)
    snap = snapshot(
        [node("m-1", "manager", leader=True), node("m-2", "manager"), node("m-3", "manager")],
        [api],
        tasks(api, "m-1", "m-2", "m-3"),
    )
    assert hostnames(planner.plan(snap)) == ["m-2", "m-3", "m-1"]


def test_it_blocks_a_node_whose_loss_the_others_cannot_hold_with_managers_counted():
    api = service("api", replicas=4, memory_gib=5)
    snap = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")],
        [api],
        tasks(api, "w-1", "w-1", "w-2", "m-1"),
    )
    # 20 GiB reserved; any node lost leaves 16 GiB
    assert not sizing_n_plus_one_passes(snap)
    reasons = blocked(planner.plan(snap))
    assert set(reasons) == {"m-1", "w-1", "w-2"}
    assert all(any("breaks n+1" in r for r in rs) for rs in reasons.values())


def test_it_fits_n_plus_one_with_room_to_spare():
    api = service("api", replicas=2, cpu=0.5, memory_gib=1)
    snap = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")], [api], tasks(api, "w-1", "w-2")
    )
    assert hostnames(planner.plan(snap)) == ["w-1", "w-2", "m-1"]


def test_it_lists_losses_commands_and_rebalance_hints():
    web = service("web", replicas=3)
    agent = service("agent", mode="global")
    snap = snapshot(
        [node("m-1", "manager"), node("w-1"), node("w-2")],
        [web, agent],
        tasks(web, "w-1", "w-1", "w-2") + tasks(agent, "w-1", "w-2", "m-1"),
    )
    step = planner.plan(snap).steps[0]
    assert step.hostname == "w-1"
    assert [(loss.name, loss.tasks_lost, loss.running) for loss in step.losses] == [
        ("agent", 1, 3),
        ("web", 2, 3),
    ]
    assert step.commands[0] == "docker node update --availability drain w-1"
    assert "reboot" in step.commands[1]
    assert "ready" in step.commands[2]
    assert step.commands[3] == "docker node update --availability active w-1"
    assert step.rebalance == ["docker service update --force web"]  # global re-creates itself


def test_it_quotes_names_in_commands():
    snap = snapshot([node("m-1", "manager"), node("w;rm -rf")])
    step = planner.plan(snap).steps[0]
    assert step.commands[0] == "docker node update --availability drain 'w;rm -rf'"


def test_it_skips_nodes_already_done_and_warns_about_a_single_manager():
    snap = snapshot([node("m-1", "manager"), node("w-1"), node("w-2")])
    plan = planner.plan(snap, skip={"id-w-1"})
    assert hostnames(plan) == ["w-2", "m-1"]
    assert plan.steps[-1].warnings
    assert "m-1" in plan.text()
