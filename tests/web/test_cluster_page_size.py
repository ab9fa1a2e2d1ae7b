"""The cluster page of a big swarm: failing checks by rule with the first few objects and a
link to the rest, nodes and services capped (problems first) unless asked for all of them."""

from datetime import UTC, datetime

import pytest
from django.db.models import Q
from django.urls import reverse

from clusters.models import Cluster, Node, Service
from readiness import cluster_selectors
from readiness.models import CheckResult, Evaluation
from readiness.selectors import check_counts

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def big_cluster(*, nodes: int = 0, services: int = 0) -> Cluster:
    cluster = Cluster.objects.create(name="big", url="unix:///run/big.sock")
    seen = {"first_seen_at": NOW, "last_seen_at": NOW}
    Node.objects.bulk_create(
        Node(
            cluster=cluster,
            swarm_id=f"n{i}",
            hostname=f"node-{i:03}",
            role="worker",
            state="down" if i == 57 else "ready",
            availability="active",
            cpus=4,
            memory_bytes=8 * 1024**3,
            **seen,
        )
        for i in range(nodes)
    )
    Service.objects.bulk_create(
        Service(
            cluster=cluster,
            swarm_id=f"s{i}",
            name=f"svc-{i:03}",
            image="app:1",
            mode="replicated",
            running_tasks=1 if i == 77 else 2,
            desired_tasks=2,
            **seen,
        )
        for i in range(services)
    )
    return cluster


def evaluate(cluster: Cluster, failing: dict[str, int]) -> Evaluation:
    """An evaluation whose rules fail on that many services each."""
    evaluation = Evaluation.objects.create(
        cluster=cluster,
        environment="production",
        snapshot_at=NOW,
        evaluated_at=NOW,
        score=50,
        grade="C",
        summary={"warning": sum(failing.values())},
        rules=[
            {
                "rule": rule,
                "category": rule.split(".")[0],
                "severity": "warning",
                "weight": 1,
                "passed": 1,
                "failed": count,
            }
            for rule, count in failing.items()
        ],
    )
    CheckResult.objects.bulk_create(
        CheckResult(
            evaluation=evaluation,
            rule=rule,
            category=rule.split(".")[0],
            severity="warning",
            status="fail",
            object_type="service",
            object_name=f"obj-{i:02}",
            message=f"{rule} fails on obj-{i:02}",
        )
        for rule, count in failing.items()
        for i in reversed(range(count))
    )
    return evaluation


def findings_of(page: str, rule: str) -> str:
    """The part of the failing checks about RULE."""
    start = page.index(f'data-rule="{rule}"')
    ends = (page.find('class="rule-findings"', start), page.index("</section>", start))
    return page[start : min(end for end in ends if end != -1)]


def test_it_shows_each_failing_rule_with_its_first_five_objects_and_links_the_rest(client, viewer):
    cluster = big_cluster()
    evaluate(cluster, {"images.tag-pinned": 8, "images.digest-pinned": 2, "health.converged": 5})
    client.force_login(viewer)
    page = client.get(reverse("clusters:detail", args=["big"])).text
    tag = findings_of(page, "images.tag-pinned")
    assert "8 failing" in tag
    assert [f"obj-{i:02}</strong>" in tag for i in range(8)] == [True] * 5 + [False] * 3
    assert 'href="/readiness/findings/?cluster=big&amp;rule=images.tag-pinned">and 3 more<' in tag
    digest = findings_of(page, "images.digest-pinned")
    assert "obj-01</strong>" in digest and "more<" not in digest
    assert "more<" not in findings_of(page, "health.converged")
    assert page.index("<h3>health") < page.index("<h3>images")
    assert '<h3>images <span class="muted small">10</span>' in page


def test_the_score_explanation_counts_every_check_not_only_those_shown(client, viewer):
    cluster = big_cluster()
    evaluate(cluster, {"images.tag-pinned": 40})
    client.force_login(viewer)
    page = client.get(reverse("clusters:detail", args=["big"])).text
    explain = page[page.index('id="explain-table"') : page.index("</table>", page.index("explain"))]
    assert "<td>1/41</td>" in explain


def test_it_lists_the_first_nodes_and_services_problems_first_and_all_on_request(client, viewer):
    big_cluster(nodes=105, services=120)
    client.force_login(viewer)
    url = reverse("clusters:detail", args=["big"])
    page = client.get(url).text
    nodes = page[page.index('id="nodes"') : page.index('id="services"')]
    assert nodes.count("<tr>") == 1 + 100
    assert nodes.index("node-057") < nodes.index("node-000")  # the down node first
    assert "node-104" not in nodes
    assert 'href="?nodes=all#nodes">Show all 105 nodes<' in nodes
    services = page[page.index('id="services"') : page.index('id="polls"')]
    assert services.count('class="service-row"') == 100
    assert services.index("svc-077") < services.index("svc-000")  # short of its tasks first
    assert "Show all 120 services" in services

    page = client.get(url, {"nodes": "all"}).text
    nodes = page[page.index('id="nodes"') : page.index('id="services"')]
    assert nodes.count("<tr>") == 1 + 105 and "Show all" not in nodes
    assert 'href="?services=all&amp;nodes=all#services"' in page

    page = client.get(url, {"services": "all"}).text
    assert page.count('class="service-row"') == 120


def test_its_query_count_is_the_same_when_everything_is_listed(
    client, viewer, django_assert_max_num_queries
):
    cluster = big_cluster(nodes=105, services=120)
    evaluate(cluster, {"images.tag-pinned": 8})
    client.force_login(viewer)
    url = reverse("clusters:detail", args=["big"])
    with django_assert_max_num_queries(30) as capped:
        client.get(url)
    with django_assert_max_num_queries(len(capped.captured_queries)):
        client.get(url, {"nodes": "all", "services": "all"})


def test_an_operator_can_waive_a_whole_rule_or_one_object(client, operator):
    cluster = big_cluster()
    evaluate(cluster, {"images.tag-pinned": 8})
    client.force_login(operator)
    page = client.get(reverse("clusters:detail", args=["big"])).text
    tag = findings_of(page, "images.tag-pinned")
    rule_form = "/readiness/waivers/new/?cluster=big&amp;rule=images.tag-pinned"
    assert f'href="{rule_form}"' in tag and ">Waive rule</a>" in tag
    assert f'href="{rule_form}&amp;object=obj-00"' in tag
    form = client.get(
        reverse("readiness:waiver_new"), {"cluster": "big", "rule": "images.tag-pinned"}
    )
    assert form.status_code == 200 and "images.tag-pinned" in form.text


@pytest.mark.parametrize("query", ["", "obj-0", "TAG", "nothing-matches"])
def test_the_first_checks_per_rule_are_those_a_window_numbers(query):
    """The page's LATERAL ... LIMIT (PostgreSQL) keeps the rows the window numbering (SQLite)
    keeps: each rule's first five by object name, ties by id, and each rule's count."""
    evaluation = evaluate(
        big_cluster(), {"images.tag-pinned": 9, "images.digest-pinned": 3, "health.converged": 7}
    )
    same_name = CheckResult.objects.filter(evaluation=evaluation, object_name="obj-01")
    same_name.update(object_name="obj-00")  # ties on the name: the id decides
    checks = CheckResult.objects.filter(evaluation=evaluation, status="fail")
    if query:
        checks = checks.filter(Q(rule__icontains=query) | Q(object_name__icontains=query))
    lateral = cluster_selectors._first_per_rule(checks, matched=None)
    assert lateral == cluster_selectors._numbered(checks)
    if not query:  # the page's counts of failing checks (RuleCount), not counted again
        failing = {}
        for rule, _, _, status, count in check_counts(evaluation=evaluation):
            if status == "fail":
                failing[rule] = failing.get(rule, 0) + count
        assert cluster_selectors._first_per_rule(checks, matched=failing) == lateral
    assert len(lateral) == {"": 13, "obj-0": 13, "TAG": 5, "nothing-matches": 0}[query]
