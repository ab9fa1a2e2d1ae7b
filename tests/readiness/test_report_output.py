"""Report output stays well-formed whatever text a cluster carries. Pure code."""

import json
from xml.etree import ElementTree as ET

import pytest

from clusters.snapshot import EnvVar, Mount
from readiness.engine import evaluate
from readiness.policy import Policy
from readiness.report import render

from .factories import context, service, snapshot

HOSTILE = '<script>alert(1)</script>\x1b[2J\x07\r\n[PASS] fake & "quoted" \ufffe'


def hostile_report():
    web = service(
        "web",
        env=[EnvVar(f"{HOSTILE}_TOKEN", literal=True)],
        mounts=[Mount("bind", f"/srv/{HOSTILE}", "/data")],
    )
    return evaluate(snapshot(services=[web]), Policy(), context(), cluster="lab")


def test_it_writes_junit_xml_that_parses_with_the_text_visible():
    root = ET.fromstring(render(hostile_report(), "junit").encode())
    (case,) = [c for c in root.iter("testcase") if c.get("classname") == "config.bind-mounts"]
    message = case.find("failure").get("message")
    assert (
        '/srv/<script>alert(1)</script>\\x1b[2J\\x07\r\n[PASS] fake & "quoted" \\xfffe' in message
    )


def test_it_writes_text_without_control_characters():
    text = render(hostile_report(), "text")
    assert not [ch for ch in text if ord(ch) < 32 and ch != "\n"]
    assert "<script>alert(1)</script>\\x1b[2J\\x07\\x0d\\x0a[PASS] fake" in text
    assert not [line for line in text.splitlines() if line.startswith("[PASS] fake")]


def test_it_keeps_json_exact():
    data = json.loads(render(hostile_report(), "json"))
    messages = [c["message"] for c in data["checks"] if c["rule"] == "config.bind-mounts"]
    assert messages == [f"service web bind-mounts /srv/{HOSTILE}"]


def test_it_writes_times_in_whole_seconds_utc_like_the_contract():
    from datetime import timedelta, timezone

    from .factories import NOW

    local = timezone(timedelta(hours=2))
    evaluated = (NOW + timedelta(seconds=1, microseconds=987654)).astimezone(local)
    report = evaluate(snapshot(), Policy(), context(now=evaluated), cluster="lab")
    data = json.loads(render(report, "json"))
    assert (data["snapshot_at"], data["evaluated_at"]) == (
        "2026-11-22T10:00:00Z",
        "2026-11-22T10:00:01Z",
    )


def mixed_report():
    """A cluster report with a pass, a failure, a waived check and a note."""
    from readiness.engine import WaiverSpec

    web = service("web", image="web:latest", replicas=1)
    return evaluate(
        snapshot(services=[web, service("api")]),
        Policy(),
        context(environment="staging"),
        cluster="lab",
        waivers=[WaiverSpec(1, "rollout.replicas", "web")],
        notes=["a note"],
    )


def test_it_writes_the_report_fields_in_text_as_in_json():
    report = mixed_report()
    data = json.loads(render(report, "json"))
    text = render(report, "text")
    assert text.startswith(
        "Readiness of lab (staging): {score}/100, grade {grade}\n"
        "Grade capped at C: a critical check fails.\n"
        "Snapshot {snapshot_at}, evaluated {evaluated_at}\n".format(**data)
    )
    summary = "Failing: {critical} critical, {warning} warning, {info} info; {waived} waived, "
    assert (summary + "{passed} passed").format(**data["summary"]) in text
    assert "Note: a note" in text
    for name, category in data["categories"].items():
        assert f"  {name:<14} {category['score']:>3}  ({category['rules']} rules evaluated)" in text


def test_it_writes_the_report_fields_and_every_check_in_junit_as_in_json():
    report = mixed_report()
    data = json.loads(render(report, "json"))
    root = ET.fromstring(render(report, "junit").encode())
    properties = [(p.get("name"), p.get("value")) for p in root.find("properties")]
    assert properties[:7] == [
        ("cluster", "lab"),
        ("environment", "staging"),
        ("snapshot_at", data["snapshot_at"]),
        ("evaluated_at", data["evaluated_at"]),
        ("score", str(data["score"])),
        ("grade", data["grade"]),
        ("grade_capped", "True"),
    ]
    named = dict(properties)
    assert {key: int(named[f"summary.{key}"]) for key in data["summary"]} == data["summary"]
    assert {
        name: {key: int(named[f"categories.{name}.{key}"]) for key in ("score", "rules")}
        for name in data["categories"]
    } == data["categories"]
    assert ("note", "a note") in properties

    cases = []
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            facts = {p.get("name"): p.get("value") for p in case.find("properties")}
            failure, skipped, out = (
                case.find("failure"),
                case.find("skipped"),
                case.find("system-out"),
            )
            if failure is not None:
                message, remediation = failure.get("message"), failure.text
            elif skipped is not None:
                message, remediation = skipped.get("message").split(": ", 1)[1], None
            else:
                message, remediation = out.text, None
            cases.append(
                (case.get("classname"), suite.get("name"), facts["severity"], facts["status"],
                 case.get("name"), facts["object_id"], message, remediation)
            )  # fmt: skip
    assert sorted(cases) == sorted(
        (c["rule"], c["category"], c["severity"], c["status"],
         f"{c['object']['type']} {c['object']['name']}", c["object"]["id"], c["message"],
         c["remediation"] if c["status"] == "fail" else None)
        for c in data["checks"]
    )  # fmt: skip
    assert {case[3] for case in cases} >= {"pass", "fail", "waived"}


def test_it_lists_fix_first_after_the_other_fields_in_json_text_and_junit():
    from readiness.fixfirst import fix_first

    report = mixed_report()
    data = json.loads(render(report, "json"))
    assert list(data) == [
        "cluster", "environment", "snapshot_at", "evaluated_at", "score", "grade",
        "grade_capped", "categories", "summary", "checks", "rules", "notes", "fix_first",
    ]  # fmt: skip
    expected = [fix.to_dict() for fix in fix_first(report.checks)]
    assert data["fix_first"] == expected and expected
    assert data["fix_first"][0]["rule"] == "images.tag-pinned"  # it lifts the cap
    assert json.loads(render(report, "json", only_failed=True))["fix_first"] == expected

    text = render(report, "text")
    assert "\nFix first:\n" in text
    for n, item in enumerate(expected, start=1):
        names = ", ".join(o["name"] for o in item["objects"])
        assert f"  {n}. {item['rule']} ({item['objects'][0]['type']} {names}): " in text
        assert f"+{item['gain']} points, grade {item['grade_after']}" in text

    root = ET.fromstring(render(report, "junit").encode())
    named = {p.get("name"): p.get("value") for p in root.find("properties")}
    for n, item in enumerate(expected, start=1):
        assert named[f"fix_first.{n}.rule"] == item["rule"]
        assert named[f"fix_first.{n}.gain"] == str(item["gain"])
        assert named[f"fix_first.{n}.grade_after"] == item["grade_after"]


def test_it_lists_nothing_to_fix_when_nothing_fails():
    report = evaluate(snapshot(services=[service("api")]), Policy(), context(), cluster="lab")
    if report.summary["critical"] + report.summary["warning"]:
        pytest.skip("the factory's cluster fails something")
    data = json.loads(render(report, "json"))
    assert data["fix_first"] == []
    assert "Fix first:" not in render(report, "text")
