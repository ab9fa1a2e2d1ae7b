"""The fake Engine API of the bench: synthetic swarms as JSON, served over plain HTTP on
127.0.0.1 by one process (a thread of the bench) for every cluster that points at it.

A GET of /bench/generation/N switches every later answer to the swarm of generation N (the
churn a busy swarm shows between two polls); the clusters' client never asks for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _node(i: int, created: str) -> dict:
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
                   "Addr": f"10.{i // 62500}.{i // 250 % 250}.{i % 250}"},
    }  # fmt: skip
    if manager:
        node["ManagerStatus"] = {"Leader": i == 0, "Reachability": "reachable",
                                 "Addr": f"10.0.0.{i}:2377"}  # fmt: skip
    return node


def _service(i: int, created: str, changed: str, generation: int) -> dict:
    updated = generation and i % 100 == generation % 100
    return {
        "ID": f"svc{i:05d}",
        "Version": {"Index": 1000 + i + (1_000_000 * generation if updated else 0)},
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
    }  # fmt: skip


def synthetic_swarm(
    now: datetime, nodes_count: int, services_count: int, tasks_count: int, generation: int = 0
) -> dict[str, bytes]:
    """Engine API JSON bodies by endpoint name.

    Each GENERATION (one per poll) churns the swarm as a busy one does between two polls: 5% of
    the running tasks are replaced by new ones and 1% of the services are updated (new image
    tag), each with a new Version.Index like the manager gives them.
    """
    created = _ts(now - timedelta(days=30))
    changed = _ts(now - timedelta(seconds=30))
    nodes = [_node(i, created) for i in range(nodes_count)]
    services = [_service(i, created, changed, generation) for i in range(services_count)]
    workers = max(1, nodes_count - 3)
    tasks = []
    for i in range(tasks_count):
        svc = i % services_count
        replaced = generation and i % 20 == generation % 20
        tasks.append({
            "ID": f"task{i:06d}" + (f"g{generation}" if replaced else ""),
            "Version": {"Index": 5000 + i + (1_000_000 * generation if replaced else 0)},
            "UpdatedAt": changed if replaced else created,
            "ServiceID": f"svc{svc:05d}",
            "NodeID": f"node{3 + i % workers:05d}" if nodes_count > 3 else "node00000",
            "Slot": i // services_count + 1,
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
        for i in range(min(20, nodes_count))
    )  # fmt: skip
    secrets = [{"ID": f"sec{i}", "Spec": {"Name": f"secret{i}"}, "CreatedAt": created}
               for i in range(50)]  # fmt: skip
    return {
        "version": orjson.dumps({"ApiVersion": "1.47", "Version": "27.3.1"}),
        "info": orjson.dumps(info),
        "nodes": orjson.dumps(nodes),
        "services": orjson.dumps(services),
        "tasks_running": orjson.dumps(tasks),
        "tasks_other": b"[]",
        "networks": orjson.dumps(networks),
        "secrets": orjson.dumps(secrets),
        "configs": b"[]",
        "events": events.encode(),
        "image": orjson.dumps({"Config": {"Healthcheck": {"Test": ["CMD", "true"]}}}),
    }


class Engine:
    """The fake Engine API: BODIES(generation) gives the answers of that generation."""

    def __init__(self, bodies: Callable[[int], dict[str, bytes]]) -> None:
        self._make = bodies
        self._lock = threading.Lock()
        self.generation = 0
        self.bodies = bodies(0)
        self.requests = 0
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm each answer waits
            # for the client's delayed ACK (40 ms). Docker's Go server sets TCP_NODELAY too.
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                if parts.path.startswith("/bench/generation/"):
                    engine.switch(int(parts.path.rsplit("/", 1)[-1]))
                    body = b"{}"
                else:
                    endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
                    if "/images/" in parts.path:  # every image is on the manager
                        endpoint = "image"
                    if endpoint == "tasks":
                        filters = parse_qs(parts.query).get("filters", ["{}"])[0]
                        running = "running" in json.loads(filters).get("desired-state", [])
                        endpoint = "tasks_running" if running else "tasks_other"
                    body = engine.bodies.get(endpoint)
                    engine.requests += 1
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

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"tcp://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def switch(self, generation: int) -> None:
        """Answer as the swarm of GENERATION from now on."""
        with self._lock:
            if generation != self.generation:
                self.bodies = self._make(generation)
                self.generation = generation

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def swarm_engine(now: datetime, nodes: int, services: int, tasks: int) -> Engine:
    """An Engine answering as a synthetic swarm of that size."""
    return Engine(lambda generation: synthetic_swarm(now, nodes, services, tasks, generation))
