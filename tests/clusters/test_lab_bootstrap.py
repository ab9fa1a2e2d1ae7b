"""`make run` on a fresh machine: the demo lab is started, registered and polled; then reused."""

import secrets
import subprocess
import sys

import pytest
from django.core.management import call_command

from clusters.models import Cluster, PollRun

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


@pytest.fixture
def demo_lab_name(lab_host, monkeypatch):
    name = "t" + secrets.token_hex(2)
    monkeypatch.setenv("WATCHKEEPER_DEMO_LAB", name)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    yield name
    subprocess.run([sys.executable, "-m", "lab", "down", "--name", "wkl" + name], check=False,
                   capture_output=True, timeout=120)  # fmt: skip


def test_it_starts_registers_and_polls_the_demo_lab(demo_lab_name, capsys):
    call_command("lab_bootstrap")
    cluster = Cluster.objects.get(name="lab")
    assert f"/wkl{demo_lab_name}/" in cluster.url
    assert cluster.environment == "production"
    run = PollRun.objects.get(cluster=cluster)
    assert run.ok
    assert cluster.nodes.filter(removed_at__isnull=True).count() == 3
    names = set(cluster.services.values_list("name", flat=True))
    assert {"shop-api", "legacy-cron", "billing-worker", "ops-agent"} <= names
    assert cluster.evaluations.exists()

    subprocess.run([sys.executable, "-m", "lab", "down", "--name", "wkl" + demo_lab_name],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    call_command("lab_bootstrap")
    assert "is up" in capsys.readouterr().out
    assert Cluster.objects.count() == 1
    cluster.refresh_from_db()
    from dashboard.pipeline import cluster_poll

    assert cluster_poll(cluster=cluster).run.ok


def test_it_leaves_registered_clusters_alone(lab_host, monkeypatch, capsys):
    monkeypatch.setenv("WATCHKEEPER_DEMO_LAB", "never")
    Cluster.objects.create(name="prod", url="tcp://manager.example.org:2376")
    call_command("lab_bootstrap")
    assert "not starting the lab" in capsys.readouterr().out
    assert Cluster.objects.count() == 1
