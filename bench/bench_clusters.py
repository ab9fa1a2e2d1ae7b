"""Poll a synthetic swarm (500 nodes, 2,000 services, 10,000 running tasks) through the client.

A local http.server serves the Engine API endpoints the client uses; the poll goes through
dashboard.pipeline.cluster_poll with the real client.fetch on tcp://127.0.0.1:PORT (plain HTTP,
bench only). Reported: fetch, normalise, persist and score seconds, peak memory, SQL statements
(steady state and first poll; the statement counts are compared with a swarm a tenth the size).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NODES, SERVICES, TASKS = 500, 2_000, 10_000
STEADY_POLLS = 5


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def synthetic_swarm(
    now: datetime,
    nodes_count: int = NODES,
    services_count: int = SERVICES,
    tasks_count: int = TASKS,
    generation: int = 0,
) -> dict[str, bytes]:
    """Engine API JSON bodies by endpoint name.

    Each GENERATION (one per poll) churns the swarm as a busy one does between two polls: 5% of
    the running tasks are replaced by new ones and 1% of the services are updated (new image
    tag), each with a new Version.Index like the manager gives them.
    """
    created = _ts(now - timedelta(days=30))
    changed = _ts(now - timedelta(seconds=30))
    nodes = []
    for i in range(nodes_count):
        manager = i < 3
        node = {
            "ID": f"node{i:05d}",
            "CreatedAt": created,
            "Spec": {"Role": "manager" if manager else "worker", "Availability": "active",
                     "Labels": {"zone": f"z{i % 3}"}},
            "Description": {
                "Hostname": f"node-{i:04d}",
                "Platform": {"OS": "linux", "Architecture": "x86_64"},
                "Resources": {"NanoCPUs": 8_000_000_000, "MemoryBytes": 32 * 1024**3},
                "Engine": {"EngineVersion": "27.3.1", "Labels": {}},
            },
            "Status": {"State": "ready" if i % 97 else "down",
                       "Addr": f"10.0.{i // 250}.{i % 250}"},
        }  # fmt: skip
        if manager:
            node["ManagerStatus"] = {"Leader": i == 0, "Reachability": "reachable",
                                     "Addr": f"10.0.0.{i}:2377"}  # fmt: skip
        nodes.append(node)
    services = []
    for i in range(services_count):
        updated = generation and i % 100 == generation % 100
        services.append({
            "ID": f"svc{i:05d}",
            "Version": {"Index": 1000 + i + (100_000 * generation if updated else 0)},
            "CreatedAt": created,
            "UpdatedAt": changed if updated else created,
            "Spec": {
                "Name": f"stack{i // 20}_svc{i}",
                "Labels": {"com.docker.stack.namespace": f"stack{i // 20}"},
                "Mode": {"Replicated": {"Replicas": 5}},
                "TaskTemplate": {
                    "ContainerSpec": {
                        "Image": f"registry.example.net/app{i % 50}:1.{i % 7}"
                                 f"{'.' + str(generation) if updated else ''}@sha256:{i:064x}",
                        "Env": ["LOG_LEVEL=info", "DB_PASSWORD=bench", "API_TOKEN_FILE=/run/s"],
                        "Healthcheck": {"Test": ["CMD", "true"]} if i % 3 else None,
                        "Mounts": [{"Type": "volume", "Source": f"data{i}", "Target": "/data"}],
                    },
                    "Resources": {"Limits": {"MemoryBytes": 256 * 1024**2,
                                             "NanoCPUs": 500_000_000}},
                    "Placement": {"Constraints": ["node.role==worker"]},
                    "RestartPolicy": {"Condition": "on-failure"},
                    "Networks": [{"Target": "net0"}],
                },
                "UpdateConfig": {"Parallelism": 1, "FailureAction": "rollback",
                                 "Order": "start-first"},
            },
            "ServiceStatus": {"RunningTasks": 5, "DesiredTasks": 5, "CompletedTasks": 0},
        })  # fmt: skip
    tasks = []
    for i in range(tasks_count):
        svc = i % services_count
        replaced = generation and i % 20 == generation % 20
        tasks.append({
            "ID": f"task{i:06d}" + (f"g{generation}" if replaced else ""),
            "Version": {"Index": 5000 + i + (100_000 * generation if replaced else 0)},
            "UpdatedAt": changed if replaced else created,
            "ServiceID": f"svc{svc:05d}",
            "NodeID": f"node{3 + i % (nodes_count - 3):05d}",
            "Slot": i // SERVICES + 1,
            "DesiredState": "running",
            "Spec": {"ContainerSpec": {"Image": f"registry.example.net/app{svc % 50}:1"},
                     "Resources": {"Limits": {"MemoryBytes": 256 * 1024**2}}},
            "Status": {"State": "running", "Timestamp": changed if replaced else created,
                       "Message": "started"},
        })  # fmt: skip
    networks = [
        {"Id": "net0", "Name": "app", "Driver": "overlay", "Scope": "swarm", "Options": {}},
        {"Id": "ingress", "Name": "ingress", "Driver": "overlay", "Scope": "swarm",
         "Ingress": True},
    ]  # fmt: skip
    info = {
        "ServerVersion": "27.3.1",
        "LoggingDriver": "json-file",
        "SystemTime": _ts(now),
        "Swarm": {"LocalNodeState": "active", "ControlAvailable": True, "Managers": 3,
                  "Nodes": nodes_count, "Cluster": {"ID": "benchswarm", "CreatedAt": created,
                                              "Spec": {"CAConfig": {}}}},
    }  # fmt: skip
    events = "".join(
        json.dumps({"Type": "node", "Action": "update", "Actor": {"ID": f"node{i:05d}",
                    "Attributes": {"name": f"node-{i:04d}"}},
                    "time": int(now.timestamp()) - 5, "timeNano": int(now.timestamp() * 1e9) - 5})
        + "\n"
        for i in range(20)
    )  # fmt: skip
    secrets = [{"ID": f"sec{i}", "Spec": {"Name": f"secret{i}"}, "CreatedAt": created}
               for i in range(50)]  # fmt: skip
    return {
        "version": json.dumps({"ApiVersion": "1.47", "Version": "27.3.1"}).encode(),
        "info": json.dumps(info).encode(),
        "nodes": json.dumps(nodes).encode(),
        "services": json.dumps(services).encode(),
        "tasks_running": json.dumps(tasks).encode(),
        "tasks_other": b"[]",
        "networks": json.dumps(networks).encode(),
        "secrets": json.dumps(secrets).encode(),
        "configs": b"[]",
        "events": events.encode(),
    }


def serve(bodies: dict[str, bytes]) -> ThreadingHTTPServer:
    """Start the fake Engine API on 127.0.0.1 (a free port) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if endpoint == "tasks":
                filters = parse_qs(parts.query).get("filters", ["{}"])[0]
                running = "running" in json.loads(filters).get("desired-state", [])
                endpoint = "tasks_running" if running else "tasks_other"
            body = bodies.get(endpoint)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _poll_once(cluster, now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clusters import client
    from dashboard import pipeline

    fetch_time = {}

    def timed_fetch(**kwargs):
        start = time.perf_counter()
        raw = client.fetch(**kwargs)
        fetch_time["fetch"] = time.perf_counter() - start
        return raw

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        outcome = pipeline.cluster_poll(cluster=cluster, now=now, fetch=timed_fetch)
    total = time.perf_counter() - start
    if outcome is None or not outcome.run.ok:
        raise SystemExit(f"bench poll failed: {outcome and outcome.run.error}")
    timings = dict(outcome.timings, fetch=fetch_time["fetch"], total=total)
    return timings, len(queries)


def _statements_at_size(now: datetime, divisor: int) -> tuple[int, int]:
    """First-poll and steady-state statement counts of a swarm DIVISOR times smaller."""
    from clusters.models import Cluster

    bodies = synthetic_swarm(now, NODES // divisor, SERVICES // divisor, TASKS // divisor)
    server = serve(bodies)
    try:
        Cluster.objects.filter(name="bench-small").delete()
        url = f"tcp://127.0.0.1:{server.server_port}"
        cluster = Cluster.objects.create(name="bench-small", url=url)
        _, first = _poll_once(cluster, now)
        bodies.update(synthetic_swarm(now, NODES // divisor, SERVICES // divisor,
                                      TASKS // divisor, generation=1))  # fmt: skip
        _, steady = _poll_once(cluster, now + timedelta(minutes=1))
        cluster.delete()
    finally:
        server.shutdown()
    return first, steady


def _kept_between_polls(now: datetime) -> float:
    """MiB a worker keeps for one cluster of the full size between two polls (the services and
    tasks normalize.Reuse hands to the next poll, with the rule results kept on them)."""
    import gc

    from clusters import polling
    from clusters.models import Cluster

    bodies = synthetic_swarm(now)
    server = serve(bodies)
    try:
        Cluster.objects.filter(name="bench-kept").delete()
        cluster = Cluster.objects.create(
            name="bench-kept", url=f"tcp://127.0.0.1:{server.server_port}"
        )
        tracemalloc.start()
        _poll_once(cluster, now)
        bodies.update(synthetic_swarm(now, generation=1))
        _poll_once(cluster, now + timedelta(minutes=1))
        gc.collect()
        with_kept, _ = tracemalloc.get_traced_memory()
        polling._REUSE.pop(cluster.pk, None)
        gc.collect()
        without, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cluster.delete()
    finally:
        server.shutdown()
    return (with_kept - without) / 1024**2


def run() -> dict:
    from django.utils import timezone

    from clusters.models import Cluster

    now = timezone.now().astimezone(UTC)
    bodies = synthetic_swarm(now)
    server = serve(bodies)
    try:
        url = f"tcp://127.0.0.1:{server.server_port}"
        Cluster.objects.filter(name="bench").delete()
        cluster = Cluster.objects.create(name="bench", url=url)
        first, first_statements = _poll_once(cluster, now)  # inserts everything
        # Steady state: every later poll sees a churned swarm (5% new tasks, 1% updated
        # services); the median of a few polls is reported.
        polls = []
        for generation in range(1, STEADY_POLLS + 1):
            bodies.update(synthetic_swarm(now, generation=generation))
            timings, count = _poll_once(cluster, now + timedelta(minutes=generation))
            timings["processing"] = timings["normalize"] + timings["persist"] + timings["score"]
            polls.append((timings, count))
        steady = {
            key: statistics.median(timings[key] for timings, _ in polls) for key in polls[0][0]
        }
        statements = max(count for _, count in polls)
        bodies.update(synthetic_swarm(now, generation=STEADY_POLLS + 1))
        tracemalloc.start()
        _poll_once(cluster, now + timedelta(minutes=STEADY_POLLS + 1))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cluster.delete()
    finally:
        server.shutdown()
    small_first, small_steady = _statements_at_size(now, 10)
    kept = _kept_between_polls(now)
    processing = steady["processing"]
    first_processing = first["normalize"] + first["persist"] + first["score"]
    return {
        "swarm": {
            "nodes": NODES,
            "services": SERVICES,
            "running_tasks": TASKS,
            "churn_per_poll": "5% of tasks replaced, 1% of services updated",
            "steady_polls": STEADY_POLLS,
        },  # fmt: skip
        "first_poll": {k: round(v, 3) for k, v in first.items()}
        | {"processing": round(first_processing, 3), "sql": first_statements},
        "fetch_s": round(steady["fetch"], 3),
        "normalize_s": round(steady["normalize"], 3),
        "persist_s": round(steady["persist"], 3),
        "score_s": round(steady["score"], 3),
        "processing_s": round(processing, 3),
        "total_s": round(steady["total"], 3),
        "peak_memory_mib": round(peak / 1024**2, 1),
        "kept_between_polls_mib": round(kept, 1),
        "sql_statements": statements,
        "sql_statements_tenth_size": {"first_poll": small_first, "steady": small_steady},
        "targets": {
            "processing no slower than the fetch": processing <= steady["fetch"],
            "whole poll under 5 s": steady["total"] < 5.0,
            "SQL statements independent of size (same count at a tenth of the size)": (
                statements == small_steady and first_statements == small_first
            ),
        },
    }


def table(result: dict) -> str:
    swarm, first, small = result["swarm"], result["first_poll"], result["sql_statements_tenth_size"]
    rows = [
        ("swarm", f"{swarm['nodes']} nodes, {swarm['services']} services, "
                  f"{swarm['running_tasks']} running tasks; each later poll: "
                  f"{swarm['churn_per_poll']} (median of {swarm['steady_polls']} polls)"),
        ("fetch", f"{result['fetch_s']:.3f} s"),
        ("normalise", f"{result['normalize_s']:.3f} s"),
        ("persist", f"{result['persist_s']:.3f} s"),
        ("score", f"{result['score_s']:.3f} s"),
        ("processing", f"{result['processing_s']:.3f} s"),
        ("total poll", f"{result['total_s']:.3f} s"),
        ("peak memory", f"{result['peak_memory_mib']} MiB (tracemalloc)"),
        ("kept per cluster", f"{result['kept_between_polls_mib']} MiB between polls "
                             "(reused objects and rule results, per worker process)"),
        ("SQL statements", f"{result['sql_statements']} "
                           f"(a tenth of the size: {small['steady']})"),
        ("first poll", f"fetch {first['fetch']:.3f} s, normalise {first['normalize']:.3f} s, "
                       f"persist {first['persist']:.3f} s, score {first['score']:.3f} s, "
                       f"total {first['total']:.3f} s, {first['sql']} statements "
                       f"(a tenth of the size: {small['first_poll']})"),
    ]  # fmt: skip
    return "\n".join(f"  {name:15} {value}" for name, value in rows)
