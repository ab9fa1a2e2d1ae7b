"""Whatever a cluster carries (labels, env var names, mount paths) leaves the report commands
well-formed: JSON parses, JUnit XML parses, the text report has no terminal control codes."""

import json
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command

from clusters import registration
from clusters.models import Node, Service
from dashboard import pipeline
from lab import ServiceSpec

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

XSS = "<script>alert(1)</script>"
CONTROL = "\x1b[2J\x07"  # clear the terminal, ring the bell
NUL = "\x00"  # Docker accepts it in labels; PostgreSQL text and jsonb do not


@pytest.fixture
def hostile_lab(clean_swarm_lab, tmp_path):
    lab = clean_swarm_lab
    node = lab.swarm_node("wk-worker-2")
    spec = node.attrs["Spec"]
    node.update(dict(spec, Labels={"note": XSS, XSS: "x", "ctl": CONTROL + NUL}))
    source = tmp_path / (XSS + CONTROL)  # a directory named <script>alert(1)< / script>...
    source.mkdir(parents=True)
    service = lab.create_service(
        ServiceSpec(
            name="acc-xss",
            labels={XSS: XSS, "ctl": CONTROL + NUL},
            env={f"{XSS}_TOKEN": "s3cr3t-value", f"{CONTROL}_PASSWORD": "s3cr3t-value"},
            mounts=[f"{source}:/data:ro"],
            constraints=["node.role==worker"],
        )
    )
    try:
        lab.wait_converged(service)
        yield lab, str(source)
    finally:
        node = lab.swarm_node("wk-worker-2")
        node.update(dict(node.attrs["Spec"], Labels={}))


def report(capsys, fmt: str) -> str:
    call_command("readiness", "report", "lab", "--format", fmt)
    return capsys.readouterr().out


def test_it_polls_and_reports_hostile_names_well_formed(hostile_lab, capsys):
    lab, source = hostile_lab
    cluster = registration.cluster_add(name="lab", url=lab.docker_host)
    outcome = pipeline.cluster_poll(cluster=cluster)
    assert outcome is not None and outcome.run.ok, outcome and outcome.run.error
    assert Service.objects.get(name="acc-xss").labels[XSS] == XSS
    assert Node.objects.get(hostname="wk-worker-2").labels["note"] == XSS

    data = json.loads(report(capsys, "json"))
    messages = {c["rule"]: c["message"] for c in data["checks"] if c["object"]["name"] == "acc-xss"}
    assert XSS in messages["config.bind-mounts"]  # the path, as the cluster has it
    assert f"{XSS}_TOKEN" in messages["config.secret-in-env"]
    assert "s3cr3t-value" not in json.dumps(data)  # env values never leave the cluster

    root = ET.fromstring(report(capsys, "junit").encode())
    failures = {
        case.get("classname"): case.find("failure").get("message")
        for case in root.iter("testcase")
        if case.get("name") == "service acc-xss" and case.find("failure") is not None
    }
    assert XSS in failures["config.bind-mounts"]
    assert failures["config.secret-in-env"] == messages["config.secret-in-env"].replace(
        CONTROL, "\\x1b[2J\\x07"
    )

    text = report(capsys, "text")
    assert XSS in text  # plain text for a terminal: nothing to escape but control codes
    assert not [ch for ch in text if ord(ch) < 32 and ch != "\n"]
    assert "\\x1b[2J\\x07_PASSWORD" in text
