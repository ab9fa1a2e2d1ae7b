"""The cluster page's decision screen, server side: Fix first, cap reason, tiles, filter,
sorting, what changed, chart marks; cluster-sourced text escaped; query count constant."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from clusters.models import Node, Service
from readiness.charts import Mark, history_chart
from readiness.checks import FAIL, Check, Obj
from readiness.cluster_selectors import Changes, what_changed
from readiness.models import Evaluation, FailureChange
from readiness.services import _store_changes, evaluations_prune
from tests.web.test_cluster_page_size import NOW, big_cluster, evaluate

pytestmark = pytest.mark.django_db
EVIL = '<script>alert("x")</script>'


def test_it_sorts_each_table_by_any_column_and_ignores_bad_sorts(client, viewer):
    cluster = big_cluster(nodes=5, services=4)
    Node.objects.filter(cluster=cluster, hostname="node-003").update(cpus=64)
    Service.objects.filter(cluster=cluster, name="svc-002").update(image="aaa:1")
    client.force_login(viewer)
    url = reverse("clusters:detail", args=["big"])

    def order(page, marker):
        return [i for i in range(5) if f"{marker}-{i:03}" in page] and sorted(
            (page.index(f"{marker}-{i:03}<"), f"{marker}-{i:03}")
            for i in range(5)
            if f"{marker}-{i:03}<" in page
        )

    page = client.get(url, {"sort": "cpus", "dir": "desc"}).text
    assert [n for _, n in order(page, "node")][0] == "node-003"
    assert 'aria-sort="descending"' in page and 'href="?sort=cpus&amp;dir=asc#nodes"' in page
    page = client.get(url, {"sort": "hostname", "dir": "desc"}).text
    assert [n for _, n in order(page, "node")] == [f"node-{i:03}" for i in (4, 3, 2, 1, 0)]
    page = client.get(url, {"sort": "image"}).text
    assert [n for _, n in order(page, "svc")][0] == "svc-002"
    for column in ("tier", "tasks", "reserved", "reboot", "role", "replicas", "labels", "mode"):
        assert client.get(url, {"sort": column, "dir": "desc"}).status_code == 200
    for bad in ({"sort": "hostname; drop table"}, {"sort": "id", "dir": "sideways"},
                {"sort": "__class__"}, {"dir": "desc"}):  # fmt: skip
        response = client.get(url, bad)
        assert response.status_code == 200 and "aria-sort" not in response.text


def test_the_filter_narrows_findings_nodes_and_services_and_keeps_counts(client, viewer):
    cluster = big_cluster(nodes=3, services=3)
    evaluate(cluster, {"images.tag-pinned": 8, "health.converged": 3})
    client.force_login(viewer)
    page = client.get(reverse("clusters:detail", args=["big"]), {"q": "obj-07"}).text
    findings = page[page.index('id="findings"') :]  # Fix first stays whole: it is the decision
    assert "obj-07</strong>" in findings and "obj-00</strong>" not in findings
    assert "1 failing" in page  # the rule's matching checks
    assert '<h3>images <span class="muted small">8</span>' in page  # the category's own count
    assert 'id="cat-health">' in page  # no match: closed
    assert 'value="obj-07"' in page and "node-000" not in page
    page = client.get(reverse("clusters:detail", args=["big"]), {"q": "svc-001"}).text
    assert "svc-001<" in page and "svc-000<" not in page


def test_it_escapes_cluster_text_everywhere(client, viewer):
    cluster = big_cluster()
    evaluation = evaluate(cluster, {"images.tag-pinned": 2})
    evaluation.checks.update(object_name=EVIL, remediation=f"docker rm {EVIL}")
    Evaluation.objects.filter(pk=evaluation.pk).update(
        new_failures=[["images.tag-pinned", "service", EVIL]]
    )
    Node.objects.create(cluster=cluster, swarm_id="x", hostname=EVIL, role="worker", state="ready",
                        availability="active", cpus=1, memory_bytes=1, first_seen_at=NOW,
                        last_seen_at=NOW)  # fmt: skip
    client.force_login(viewer)
    page = client.get(reverse("clusters:detail", args=["big"]), {"q": EVIL}).text
    assert EVIL not in page and "&lt;script&gt;" in page
    svg = history_chart([], now=NOW, marks=[Mark("waiver", NOW, None, EVIL)])
    assert EVIL not in svg and "&lt;script&gt;" in svg


def test_fix_first_and_the_cap_reason_are_on_top(client, viewer):
    cluster = big_cluster()
    evaluation = evaluate(cluster, {"images.tag-pinned": 2})
    client.force_login(viewer)
    page = client.get(reverse("clusters:detail", args=["big"])).text
    assert page.index('id="grade"') < page.index('id="tiles"') < page.index('id="fix-first"')
    assert page.index('id="fix-first"') < page.index('id="findings"')
    assert 'data-fix-rule="images.tag-pinned"' in page and "and 1 more" in page
    assert 'href="#cat-images"' in page and 'id="cat-images" open' in page
    assert evaluation.grade_capped is False and 'id="cap-why"' not in page


@pytest.mark.parametrize("linked", [True, False])
def test_what_changed_nets_out_failures_new_then_resolved_and_survives_thinning(linked):
    cluster = big_cluster()
    a, b, c = ["r.a", "service", "a"], ["r.b", "service", "b"], ["r.c", "service", "c"]
    spans = [(8, [a], []), (5, [b, c], []), (4, [], []), (3, [], [a, b]), (1, [b], [c])]
    for days, new, resolved in spans:
        at = NOW - timedelta(days=days)
        last = Evaluation.objects.create(cluster=cluster, environment="production",
            snapshot_at=at, evaluated_at=at, score=50, grade="D",
            new_failures=new, resolved_failures=resolved)  # fmt: skip
        if linked:  # as an evaluation writes them
            checks = [Check(r, "c", "warning", FAIL, Obj(t, "", n), "", "") for r, t, n in new]
            warnings = [(*key, "warning") for key in resolved]
            _store_changes(cluster=cluster, at=at, appeared=checks, resolved=warnings)
        for appeared, keys in ((True, new), (False, resolved)):
            FailureChange.objects.bulk_create(
                FailureChange(cluster=cluster, at=at, appeared=appeared, rule=rule,
                              severity="warning", object_type=kind, object_name=name)
                for rule, kind, name in keys
                if not linked
            )  # fmt: skip
        # earlier the same day, evaluations that changed nothing: the day keeps its first,
        # so thinning drops the ones above that held the changes
        for minutes in (10, 20):
            Evaluation.objects.create(cluster=cluster, environment="production",
                snapshot_at=at, evaluated_at=at - timedelta(minutes=minutes), score=50,
                grade="D")  # fmt: skip
    assert FailureChange.objects.filter(linked=True).count() == (7 if linked else 0)
    for now in (NOW, NOW + timedelta(hours=1)):  # before and after the history is thinned
        if now != NOW:
            assert evaluations_prune(now=now)["evaluations"] > 0
        changes = what_changed(evaluation=last, since=now - timedelta(days=7))
        assert changes.last_poll == Changes(1, 1, [tuple(b)], [tuple(c)])
        # c came and went; b went and came back
        assert changes.week == Changes(1, 1, [tuple(b)], [tuple(a)])
        assert not changes.first_evaluation


def test_the_chart_draws_grade_bands_and_marks():
    now = datetime(2026, 11, 22, tzinfo=UTC)
    marks = [Mark("waiver", now - timedelta(days=3), None, "waiver created: x"),
             Mark("maintenance", now - timedelta(days=2), now - timedelta(days=2, hours=-2), "m"),
             Mark("waiver", now - timedelta(days=90), None, "too old")]  # fmt: skip
    svg = history_chart([(now, 80)], now=now, marks=marks)
    assert all(f"band-{g}" in svg for g in "ABCDF")
    assert svg.count("mark-waiver") == 1 and svg.count("mark-maintenance") == 1
    assert "too old" not in svg


def test_its_query_count_does_not_depend_on_filter_sort_or_size(
    client, viewer, django_assert_max_num_queries
):
    cluster = big_cluster(nodes=3, services=3)
    evaluate(cluster, {"images.tag-pinned": 2})
    client.force_login(viewer)
    url = reverse("clusters:detail", args=["big"])
    with django_assert_max_num_queries(30) as small:
        client.get(url)
    Node.objects.bulk_create(
        Node(
            cluster=cluster,
            swarm_id=f"m{i}",
            hostname=f"more-{i}",
            role="worker",
            state="ready",
            availability="active",
            cpus=2,
            memory_bytes=2**30,
            first_seen_at=NOW,
            last_seen_at=NOW,
        )  # fmt: skip
        for i in range(150)
    )
    for params in ({}, {"sort": "tasks", "dir": "desc"}, {"q": "more"}, {"sort": "cpus"},
                   {"nodes": "all", "services": "all", "sort": "reboot"}):  # fmt: skip
        with django_assert_max_num_queries(len(small.captured_queries)):
            client.get(url, params)
