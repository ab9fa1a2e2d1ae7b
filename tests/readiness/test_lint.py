"""`manage.py readiness lint`: Compose files in, the report out, clear errors and exit codes."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from readiness.compose import ComposeError, load_compose, parse_size

from .factories import NOW

ROOT = Path(__file__).resolve().parents[2]

BAD = """
x-common: &common
  image: myuser/app
  environment:
    - DB_PASSWORD=hunter2
    - DB_PASSWORD_FILE=/run/secrets/db
services:
  app:
    <<: *common
    cap_add: [SYS_ADMIN]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - data:/data
    deploy:
      replicas: 1
      restart_policy: {condition: none}
      update_config: {failure_action: continue}
      resources:
        limits: {memory: 32M}
  good:
    image: registry.example.com/team/good:1.0@sha256:%s
    healthcheck: {test: ["CMD", "true"]}
    environment: {API_TOKEN_FILE: /run/secrets/token, TAG: "${TAG}"}
    deploy:
      replicas: 2
      update_config: {failure_action: rollback, order: start-first}
      rollback_config: {parallelism: 1, order: start-first}
      resources:
        limits: {memory: 256M, cpus: "0.5"}
        reservations: {memory: 128M}
volumes:
  data:
""" % ("e" * 64)


def lint(tmp_path, text, *args):
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    return call_command("readiness", "lint", str(path), *args)


def test_it_grades_our_own_compose_file_a_without_critical_failures(capsys):
    call_command(
        "readiness",
        "lint",
        str(ROOT / "docker-compose.yml"),
        "--format",
        "json",
        "--fail-below",
        "90",
    )
    report = json.loads(capsys.readouterr().out)
    assert report["cluster"] is None
    assert report["grade"] == "A" and report["score"] >= 90
    assert report["summary"]["critical"] == 0
    assert not report["grade_capped"]
    assert {c["object"]["name"] for c in report["checks"]} == {
        "web",
        "worker",
        "beat",
        "postgres",
        "redis",
    }


def test_it_finds_failures_exactly_where_expected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        lint(tmp_path, BAD, "--format", "json", "--fail-on-critical")
    assert exit_info.value.code == 3
    report = json.loads(capsys.readouterr().out)
    failing = {(c["rule"], c["object"]["name"]) for c in report["checks"] if c["status"] == "fail"}
    assert failing == {
        ("images.tag-pinned", "app"),
        ("images.digest-pinned", "app"),
        ("images.registry", "app"),
        ("resources.memory-floor", "app"),
        ("resources.memory-reservation", "app"),
        ("resources.cpu-limit", "app"),
        ("config.secret-in-env", "app"),
        ("config.bind-mounts", "app"),
        ("config.sensitive-host-path", "app"),
        ("config.stateful-pinned", "app"),
        ("rollout.replicas", "app"),
        ("rollout.update-failure-action", "app"),
        ("rollout.update-order", "app"),
        ("rollout.restart-policy", "app"),
        ("rollout.rollback-config", "app"),
        ("security.docker-socket", "app"),
        ("security.capabilities", "app"),
    }
    assert report["grade"] in "CDF" and report["grade_capped"]
    assert any("${TAG}" in note for note in report["notes"])
    assert "hunter2" not in json.dumps(report)


def test_it_exits_4_below_the_threshold(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        lint(tmp_path, BAD, "--fail-below", "99", "--only-failed")
    assert exit_info.value.code == 4
    out = capsys.readouterr().out
    assert "Grade capped at C" in out and "[PASS]" not in out


def test_it_refuses_malformed_yaml_with_the_line(tmp_path):
    with pytest.raises(CommandError) as error:
        lint(tmp_path, "services:\n  web:\n    image: app:1\n   bad: [\n")
    assert error.value.returncode == 2
    assert "line 4" in str(error.value)


def test_it_refuses_a_file_without_services(tmp_path):
    with pytest.raises(CommandError, match=r"line 1: `services:` must map"):
        lint(tmp_path, "services: [web]\n")


def test_it_refuses_a_service_that_is_not_a_mapping(tmp_path):
    with pytest.raises(CommandError, match=r"line 3: service 'api' must be a mapping"):
        lint(tmp_path, "services:\n  web: {image: a:1}\n  api: nope\n")


def test_it_refuses_custom_tags_and_never_runs_them():
    text = "services:\n  web: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    with pytest.raises(ComposeError, match="line 2"):
        load_compose(text, filename="evil.yml", now=NOW)


def test_it_reports_a_missing_file():
    with pytest.raises(CommandError) as error:
        call_command("readiness", "lint", "/nonexistent/compose.yml")
    assert error.value.returncode == 2


def test_it_reads_long_volume_syntax_and_sizes():
    text = """
services:
  web:
    image: app:1
    mem_limit: 1g
    volumes:
      - {type: bind, source: /srv, target: /srv, read_only: true}
      - {type: volume, source: cache, target: /cache}
    deploy: {mode: global}
volumes:
  cache: {driver: nfs}
"""
    snapshot, _ = load_compose(text, filename="f", now=NOW)
    web = snapshot.services[0]
    assert (web.mode, web.replicas, web.memory_limit) == ("global", None, 1024**3)
    assert [(m.type, m.source, m.volume_driver, m.read_only) for m in web.mounts] == [
        ("bind", "/srv", None, True),
        ("volume", "cache", "nfs", False),
    ]
    assert parse_size("1.5G", "x") == int(1.5 * 1024**3)
    with pytest.raises(ComposeError):
        parse_size("lots", "x")


def test_it_renders_junit_and_text(tmp_path, capsys):
    lint(tmp_path, BAD, "--format", "junit")
    out = capsys.readouterr().out
    assert out.startswith('<?xml version="1.0"')
    assert '<testsuite name="images"' in out and "<failure" in out
    lint(tmp_path, BAD)
    assert "Readiness of compose file" in capsys.readouterr().out


def test_it_reads_the_default_of_a_variable_in_a_number_or_size():
    text = """
services:
  web:
    image: app:${TAG:-1.0}
    deploy:
      replicas: ${WEB_REPLICAS:-3}
      resources:
        limits: {memory: "${WEB_MEMORY-1G}", cpus: "${WEB_CPUS:-0.5}"}
        reservations: {memory: "${WEB_RESERVED:-256M}"}
"""
    snapshot, notes = load_compose(text, filename="f", now=NOW)
    web = snapshot.services[0]
    assert (web.replicas, web.memory_limit, web.cpu_limit, web.memory_reservation) == (
        3,
        1024**3,
        0.5,
        256 * 1024**2,
    )
    assert any("${WEB_REPLICAS}" in note for note in notes)


def test_it_asks_for_a_default_when_a_number_is_a_bare_variable():
    text = "services:\n  web:\n    image: app:1\n    deploy: {replicas: '${REPLICAS}'}\n"
    with pytest.raises(ComposeError, match=r"line 3: .*\$\{REPLICAS\} has no default"):
        load_compose(text, filename="f", now=NOW)


def test_it_refuses_a_file_over_max_bytes_and_an_alias_bomb(tmp_path):
    from .test_lintcli import LAUGHS

    text = "services:\n  web:\n    image: app:1.2.3\n"
    with pytest.raises(CommandError, match="over the 20-byte limit") as error:
        lint(tmp_path, text, "--max-bytes", "20")
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match="billion laughs") as error:
        lint(tmp_path, LAUGHS)
    assert error.value.returncode == 2
