"""The sizes `make bench` runs at: full (the targets of issue 18), quick (a tenth of it, for
CI-like checks: `make bench BENCH=quick`) and tiny (the test that runs the bench end to end)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    nodes: int  # the synthetic swarm
    services: int
    tasks: int
    steady_polls: int  # polls with churn after the first (median reported)
    page_clusters: int  # clusters on the fleet page
    failing_checks: int  # failing checks of the latest evaluations (findings page)
    fleet_clusters: int  # the polled fleet, each of FLEET_NODES nodes
    fleet_seconds: int  # how long the fleet is polled (real time)
    history_sample: int  # clusters whose whole retained history is generated (see history)


FLEET_NODES = 20
POLL_INTERVAL = 60  # seconds, every cluster of the fleet

SIZES = {
    "full": Size("full", 5_000, 20_000, 100_000, 3, 2_000, 1_000_000, 1_000, 150, 3),
    "quick": Size("quick", 500, 2_000, 10_000, 3, 200, 100_000, 100, 75, 2),
    "tiny": Size("tiny", 50, 200, 1_000, 1, 20, 10_000, 10, 8, 1),
}


def tenth(size: Size) -> Size:
    """SIZE with a swarm, a fleet page and a findings page ten times smaller (for comparing
    statement counts)."""
    return Size(
        size.name + "/10", size.nodes // 10, size.services // 10, size.tasks // 10,
        size.steady_polls, size.page_clusters // 10, size.failing_checks // 10,
        size.fleet_clusters // 10, size.fleet_seconds, size.history_sample,
    )  # fmt: skip
