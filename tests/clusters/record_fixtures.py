"""Record Engine API JSON from the lab for the pure normalisation tests (run by hand, as root).

    .venv/bin/python -m tests.clusters.record_fixtures

Starts a TLS lab with the demo services plus a secret and a config, records one poll, restarts
a worker, records a second poll (with its node events), and tears the lab down. Env values and
config data are replaced before anything is written: fixtures never hold them.
"""

import json
import time
from pathlib import Path

from clusters.client import _images, _service_images, swarm_without_tokens
from lab import Lab
from lab.demo import create_demo_services

HERE = Path(__file__).parent / "fixtures"


def scrub_env(env: list[str] | None) -> list[str] | None:
    """Keep names; replace values by a marker that keeps empty / literal / private-key apart."""
    if env is None:
        return None
    out = []
    for item in env:
        name, sep, value = item.partition("=")
        if "PRIVATE KEY-----" in value:
            value = "-----BEGIN PRIVATE KEY----- scrubbed"
        elif value:
            value = "scrubbed"
        out.append(f"{name}{sep}{value}")
    return out


def scrub(raw: dict) -> dict:
    for item in raw["services"] + raw["tasks_running"] + raw["tasks_shutdown"]:
        spec = item.get("Spec", {}).get("TaskTemplate", item.get("Spec", {}))
        container = spec.get("ContainerSpec", {})
        if "Env" in container:
            container["Env"] = scrub_env(container["Env"])
        previous = item.get("PreviousSpec", {}).get("TaskTemplate", {}).get("ContainerSpec", {})
        if "Env" in previous:
            previous["Env"] = scrub_env(previous["Env"])
    for config in raw["configs"]:
        config.get("Spec", {}).pop("Data", None)
    for secret in raw["secrets"]:
        secret.get("Spec", {}).pop("Data", None)
    return raw


def record(api, since: int | None) -> dict:
    time.sleep(1.5)  # let the last node events land before `until`
    info = api.info()
    until = int(time.time()) + 1
    events = list(api.events(since=since or until - 600, until=until, decode=True))
    services = api.services(status=True)
    return scrub(
        {
            "version": api.version(),
            "info": info,
            "nodes": api.nodes(),
            "services": services,
            "swarm": swarm_without_tokens(api.inspect_swarm()),
            "images": _images(api, _service_images(services)),
            "tasks_running": api.tasks(filters={"desired-state": "running"}),
            "tasks_shutdown": api.tasks(filters={"desired-state": "shutdown"}),
            "networks": api.networks(),
            "secrets": api.secrets(),
            "configs": api.configs(),
            "events": events,
            "since": since,
            "until": until,
        }
    )


def main() -> None:
    with Lab(tls=True) as lab:
        create_demo_services(lab)
        client = lab.client()
        client.secrets.create(name="db_password", data=b"not-a-real-secret")
        client.configs.create(name="app_config", data=b"level=debug")
        api = client.api
        first = record(api, None)
        (HERE / "lab_poll1.json").write_text(json.dumps(first, indent=1, sort_keys=True))
        lab.restart_node("wk-worker-2")
        second = record(api, first["until"])
        (HERE / "lab_poll2.json").write_text(json.dumps(second, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
