"""The lint and the live rules agree: one Compose file linted, and deployed with `docker stack
deploy` into the lab, gives the same status for every rule both can see (issue 13)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest

from clusters import registration
from dashboard import pipeline
from dashboard import selectors as dashboard_selectors
from lab import DEFAULT_IMAGE
from readiness import catalogue
from readiness.lintcli import lint_text

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

STACK = "wkcmp"
SAMPLE = f"""
services:
  good:
    image: {DEFAULT_IMAGE}
    command: ["sleep", "3600"]
    healthcheck: {{test: ["CMD", "true"], interval: 10s}}
    deploy:
      replicas: 2
      resources:
        limits: {{cpus: "0.25", memory: 64M}}
        reservations: {{cpus: "0.05", memory: 16M}}
      restart_policy: {{condition: on-failure, max_attempts: 3}}
      update_config: {{parallelism: 1, order: start-first, failure_action: rollback}}
      rollback_config: {{parallelism: 1}}
  sloppy:
    image: {DEFAULT_IMAGE.split(":")[0]}
    command: ["sleep", "3600"]
    environment:
      DB_PASSWORD: hunter2
    cap_add: [SYS_ADMIN]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
    deploy:
      replicas: 1
      restart_policy: {{condition: any}}
"""
# Rule id -> the issue 13 item that fixes a known lint/live difference. Empty: on 2026-12-05
# all 33 (rule, service) pairs of this sample agreed.
EXPECTED_DIFFERENCES: dict[str, str] = {}


@pytest.fixture
def deployed(swarm_lab, tmp_path):
    path = tmp_path / "stack.yml"
    path.write_text(SAMPLE)
    env = dict(os.environ, DOCKER_HOST=swarm_lab.docker_host)
    command = ["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(path), STACK]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    try:
        yield swarm_lab
    finally:
        subprocess.run(["docker", "stack", "rm", STACK], env=env, timeout=120, check=False)


def test_linting_and_deploying_a_stack_give_the_same_status_per_rule(deployed):
    now = datetime.now(UTC)
    linted, _places = lint_text(SAMPLE, filename="stack.yml", now=now)
    lint_status = {(c.rule, c.object.name): c.status for c in linted.checks}
    cluster = registration.cluster_add(name="lab", url=deployed.docker_host)
    outcome = pipeline.cluster_poll(cluster=cluster)
    assert outcome is not None and outcome.run.ok
    live = dashboard_selectors.cluster_report(cluster=cluster, now=now)
    lint_ids = {rule.id for rule in catalogue.lint_rules()}
    live_status = {
        (c.rule, c.object.name.removeprefix(f"{STACK}_")): c.status
        for c in live.checks
        if c.rule in lint_ids and c.object.name.startswith(f"{STACK}_")
    }
    # A rule "both can see": neither side says it cannot tell (not_evaluated). The lint cannot
    # see an image's own HEALTHCHECK, so health.healthcheck is unknown there without a spec one.
    both = {
        key
        for key in set(lint_status) & set(live_status)
        if "not_evaluated" not in (lint_status[key], live_status[key])
    }
    assert {name for _, name in both} == {"good", "sloppy"}
    assert lint_status[("health.healthcheck", "sloppy")] == "not_evaluated"
    differing = {
        key: (lint_status[key], live_status[key])
        for key in both
        if lint_status[key] != live_status[key] and key[0] not in EXPECTED_DIFFERENCES
    }
    assert differing == {}
    sloppy_failures = {rule for (rule, name), status in lint_status.items() if status == "fail"}
    assert {"images.tag-pinned", "security.docker-socket", "config.secret-in-env"} <= {
        rule for rule in sloppy_failures if live_status.get((rule, "sloppy")) == "fail"
    }
