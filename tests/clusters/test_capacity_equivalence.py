"""clusters.capacity places tasks as the plain search over every eligible node does (the
ranked search with touched nodes replaced it for swarms of thousands of nodes)."""

import random

from clusters import capacity
from clusters.placement import placeable_nodes
from tests.readiness.factories import GIB, MIB, node, service, snapshot, task


def plain_homeless(snap, lost):
    """The reference: every eligible node tried for every task."""
    base = capacity.Base(snap)
    free = {i: list(room) for i, room in base.free.items() if i != lost.id}
    moving = []
    for t in snap.running_tasks_on_node(lost.id):
        svc = base.services.get(t.service_id)
        if svc is None or svc.mode == "global":
            continue
        cpu, memory = t.reserved(svc)
        if cpu <= 0 and memory <= 0:
            continue
        moving.append((memory, cpu, svc))
    moving.sort(key=lambda m: (m[0], m[1], m[2].name), reverse=True)
    homeless = {}
    for memory, cpu, svc in moving:
        eligible = [n for n in placeable_nodes(svc, base.usable) if n.id != lost.id]
        if not eligible:
            continue
        fitting = [n for n in eligible if free[n.id][0] + 1e-9 >= cpu and free[n.id][1] >= memory]
        if fitting:
            target = max(fitting, key=lambda n: (free[n.id][1], free[n.id][0], n.hostname))
            free[target.id][0] -= cpu
            free[target.id][1] -= memory
            continue
        homeless[svc.name] = homeless.get(svc.name, 0) + 1
    return homeless


def test_it_places_as_the_plain_search_does_on_random_swarms():
    rng = random.Random(18)
    seen = 0
    for _ in range(60):
        nodes = [
            node(f"n{i}", "manager" if i < 2 else "worker", cpus=rng.choice([1, 2, 4]),
                 memory_bytes=rng.choice([1, 2, 4]) * GIB, hostname=f"h{rng.randrange(4)}")
            for i in range(rng.randrange(2, 9))
        ]  # fmt: skip
        services = [
            service(f"s{i}", memory_reservation=rng.choice([0, 256, 512, 1024]) * MIB,
                    cpu_reservation=rng.choice([0, 0.25, 0.5, 1.0]),
                    constraints=rng.choice([[], ["node.role==worker"], ["node.role==manager"]]))
            for i in range(rng.randrange(1, 6))
        ]  # fmt: skip
        tasks = [
            task(s, rng.choice(nodes).id, slot=k)
            for s in services
            for k in range(rng.randrange(0, 6))
        ]
        snap = snapshot(nodes=nodes, services=services, tasks=tasks)
        base = capacity.Base(snap)
        for lost in nodes:
            found = {h.service: h.tasks for h in capacity.homeless_tasks(snap, lost, base)}
            assert found == plain_homeless(snap, lost)
            seen += bool(found)
    assert seen > 10  # the swarms do run out of room
