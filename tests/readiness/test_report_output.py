"""Report output stays well-formed whatever text a cluster carries. Pure code."""

import json
from xml.etree import ElementTree as ET

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
