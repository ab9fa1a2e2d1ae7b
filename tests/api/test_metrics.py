"""/metrics: protected, parsed by prometheus-client's own parser, the API's scores, every
metric documented and used by the Grafana dashboard, a constant number of queries."""

import json
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from accounts.roles import VIEWER
from api import metrics
from clusters.models import Cluster

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs"
TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.WATCHKEEPER_METRICS_TOKEN = TOKEN
    settings.WATCHKEEPER_METRICS_ALLOW = []


def scrape(client) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        family.name: family for family in text_string_to_metric_families(response.content.decode())
    }


def test_it_refuses_without_the_token_or_an_allowed_address(client, metrics_token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_it_is_off_with_neither_set(client, settings):
    settings.WATCHKEEPER_METRICS_TOKEN = ""
    settings.WATCHKEEPER_METRICS_ALLOW = []
    assert client.get("/metrics").status_code == 403


def test_an_allowed_address_needs_no_token(client, settings):
    settings.WATCHKEEPER_METRICS_TOKEN = ""
    settings.WATCHKEEPER_METRICS_ALLOW = ["127.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_its_scores_equal_the_apis(client, polled, people, metrics_token):
    families = scrape(client)
    client.force_login(people[VIEWER])
    listed = client.get("/api/v1/clusters").json()
    scores = {s.labels["cluster"]: s.value for s in families["watchkeeper_cluster_score"].samples}
    assert scores == {c["name"]: c["score"] for c in listed if c["score"] is not None}
    grades = {
        s.labels["cluster"]: s.labels["grade"]
        for s in families["watchkeeper_cluster_grade"].samples
        if s.value == 1
    }
    assert grades == {c["name"]: c["grade"] for c in listed if c["grade"] is not None}
    open_findings = client.get("/api/v1/findings?limit=500").json()["items"]
    failing = sum(s.value for s in families["watchkeeper_cluster_failing_checks"].samples)
    assert failing == len(open_findings) > 0
    nodes = sum(s.value for s in families["watchkeeper_cluster_nodes"].samples)
    assert nodes == listed[0]["nodes"]
    assert families["watchkeeper_cluster_backup_tests_overdue"].samples[0].value == 1


def test_the_query_count_does_not_grow_with_clusters(client, polled, metrics_token):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            metrics.render(queue_length=lambda: None)
        return len(queries)

    one = count()
    for n in range(5):
        Cluster.objects.create(name=f"extra-{n}", url=f"unix:///run/{n}.sock")
    assert count() == one


def test_every_metric_is_documented_and_the_dashboard_uses_only_real_ones(
    client, polled, metrics_token
):
    names = set(scrape(client))
    documented = set(re.findall(r"`(watchkeeper_[a-z_]+)`", (DOCS / "metrics.md").read_text()))
    assert names <= documented
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"watchkeeper_[a-z_]+", target["expr"])
    }
    assert used and used <= names
