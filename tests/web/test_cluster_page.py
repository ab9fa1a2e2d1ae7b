"""The fleet and cluster pages on a really polled cluster: grades, scorecard, waiving, roles."""

import pytest
from django.db.models import Count
from django.urls import reverse

from clusters.models import Cluster
from dashboard import pipeline
from readiness.models import Evaluation
from tests.clusters.conftest import fetcher, load_raw

pytestmark = pytest.mark.django_db


def polled_cluster(name: str = "lab") -> Cluster:
    cluster = Cluster.objects.create(name=name, url="unix:///run/lab.sock")
    outcome = pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    assert outcome.run.ok
    return Cluster.objects.get(pk=cluster.pk)


def test_the_fleet_shows_the_grade_score_and_critical_count(client, viewer):
    cluster = polled_cluster()
    evaluation = Evaluation.objects.get(cluster=cluster)
    client.force_login(viewer)
    page = client.get(reverse("clusters:fleet")).text
    assert f"grade-{evaluation.grade}" in page
    assert str(evaluation.score) in page
    assert "<svg" in page


def test_the_cluster_page_explains_the_score_and_lists_nodes(client, viewer):
    cluster = polled_cluster()
    evaluation = Evaluation.objects.get(cluster=cluster)
    client.force_login(viewer)
    response = client.get(reverse("clusters:detail", args=[cluster.name]))
    assert response.status_code == 200
    page = response.text
    assert f'id="score">{evaluation.score}<' in page
    assert "explain-table" in page and "wk-worker-1" in page
    assert (
        "/readiness/waivers/new/" not in page and "Poll now" not in page
    )  # a viewer has no controls


def test_an_operator_waives_a_finding_and_the_score_changes(client, operator):
    cluster = polled_cluster()
    before = Evaluation.objects.get(cluster=cluster)
    # the critical rule failing on the most objects: waiving it moves the score (a rule failing
    # on one object among many may not, the score being rounded)
    failing = (
        before.checks.filter(status="fail", severity="critical")
        .values("rule")
        .annotate(n=Count("id"))
        .order_by("-n", "rule")
        .first()
    )
    failing = before.checks.filter(status="fail", rule=failing["rule"]).first()
    client.force_login(operator)
    assert (
        "/readiness/waivers/new/"
        in client.get(reverse("clusters:detail", args=[cluster.name])).text
    )
    form = client.get(reverse("readiness:waiver_new"),
                      {"cluster": cluster.name, "rule": failing.rule, "object": ""})  # fmt: skip
    assert form.status_code == 200 and failing.rule in form.text
    response = client.post(reverse("readiness:waiver_new"), {
        "cluster": cluster.name, "rule": failing.rule, "object": "", "reason": "known, tracked",
        "expires": "2099-01-01"})  # fmt: skip
    assert response.status_code == 400  # more than 180 days ahead: refused, nothing stored
    response = client.post(
        reverse("readiness:waiver_new"),
        {"cluster": cluster.name, "rule": failing.rule, "object": "", "reason": "known, tracked"},
    )
    assert response.status_code == 302
    after = Evaluation.objects.filter(cluster=cluster).first()
    assert after.pk != before.pk
    assert after.summary["waived"] > 0
    assert after.score != before.score or after.grade_capped != before.grade_capped


def test_a_viewer_gets_403_on_every_post(client, viewer):
    cluster = polled_cluster()
    client.force_login(viewer)
    assert client.post(reverse("clusters:poll_now", args=[cluster.name])).status_code == 403
    assert (
        client.post(reverse("readiness:waiver_new"), {"cluster": cluster.name}).status_code == 403
    )


def test_poll_now_shows_progress_until_the_poll_finishes(client, operator, settings):
    cluster = polled_cluster()
    client.force_login(operator)
    response = client.post(reverse("clusters:poll_now", args=[cluster.name]),
                           HTTP_HX_REQUEST="true")  # fmt: skip
    assert "Polling" in response.text
    status = client.get(reverse("clusters:poll_status", args=[cluster.name]),
                        HTTP_HX_REQUEST="true")  # fmt: skip
    assert status.status_code == 200 and "Polling" in status.text
    pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    status = client.get(reverse("clusters:poll_status", args=[cluster.name]),
                        HTTP_HX_REQUEST="true")  # fmt: skip
    assert status.status_code == 286 and "Poll finished" in status.text


def test_cluster_and_fleet_query_counts_do_not_grow(client, viewer, django_assert_max_num_queries):
    client.force_login(viewer)
    polled_cluster("one")
    with django_assert_max_num_queries(35) as one:
        client.get(reverse("clusters:fleet"))
        client.get(reverse("clusters:detail", args=["one"]))
    for name in ("two", "three", "four"):
        polled_cluster(name)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(reverse("clusters:fleet"))
        client.get(reverse("clusters:detail", args=["four"]))
