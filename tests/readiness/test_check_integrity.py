"""Checks, failure changes and running tasks have no foreign keys in the database (a poll of
100,000 tasks spent 0.76 s at commit checking the checks row by row, a first poll 1.2 s the
tasks): whatever deletes an evaluation, a waiver, a node, a service or a cluster must take
their rows along (or clear the key), as the database used to."""

from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import Team
from clusters.models import Cluster, Node, RunningTask, Service
from dashboard import pipeline
from readiness import services
from readiness.models import CheckResult, Evaluation, FailureChange, Waiver

from .factories import NOW, service, snapshot

pytestmark = pytest.mark.django_db


def scored(name: str, *, at=NOW, image="api:latest") -> Cluster:
    cluster, _ = Cluster.objects.get_or_create(
        name=name, defaults={"url": "unix:///var/run/docker.sock", "team": Team.default()}
    )
    pipeline.evaluation_run(
        cluster=cluster, snapshot=snapshot(services=[service("api", image=image)]), now=at
    )
    return cluster


def orphans() -> dict[str, int]:
    """Rows pointing at what is gone: what a foreign key would have refused."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            "(SELECT count(*) FROM readiness_checkresult c WHERE NOT EXISTS "
            " (SELECT 1 FROM readiness_evaluation e WHERE e.id = c.evaluation_id)), "
            "(SELECT count(*) FROM readiness_checkresult c WHERE c.waiver_id IS NOT NULL "
            " AND NOT EXISTS (SELECT 1 FROM readiness_waiver w WHERE w.id = c.waiver_id)), "
            "(SELECT count(*) FROM readiness_failurechange f WHERE NOT EXISTS "
            " (SELECT 1 FROM clusters_cluster k WHERE k.id = f.cluster_id)), "
            "(SELECT count(*) FROM clusters_runningtask t WHERE NOT EXISTS "
            " (SELECT 1 FROM clusters_cluster k WHERE k.id = t.cluster_id) "
            " OR (t.node_id IS NOT NULL AND NOT EXISTS "
            "  (SELECT 1 FROM clusters_node n WHERE n.id = t.node_id)) "
            " OR (t.service_id IS NOT NULL AND NOT EXISTS "
            "  (SELECT 1 FROM clusters_service v WHERE v.id = t.service_id)))"
        )
        checks, waivers, changes, tasks = cursor.fetchone()
    return {"checks": checks, "waivers": waivers, "changes": changes, "tasks": tasks}


NONE = {"checks": 0, "waivers": 0, "changes": 0, "tasks": 0}


def test_deleting_a_cluster_takes_its_checks_and_changes_along():
    doomed, kept = scored("doomed"), scored("kept")
    assert CheckResult.objects.filter(evaluation__cluster=doomed).exists()
    assert FailureChange.objects.filter(cluster=doomed).exists()
    doomed.delete()
    assert orphans() == NONE
    assert CheckResult.objects.filter(evaluation__cluster=kept).exists()


def test_thinning_evaluations_takes_their_checks_along():
    cluster = scored("thin", at=NOW - timedelta(days=5))
    for hours in range(1, 4):
        scored("thin", at=NOW - timedelta(days=5, hours=-hours), image=f"api:{hours}")
    scored("thin", at=NOW)
    before = Evaluation.objects.filter(cluster=cluster).count()
    pruned = services.evaluations_prune(now=NOW + timedelta(days=1))
    assert pruned["evaluations"] > 0 and Evaluation.objects.count() < before
    assert orphans() == NONE
    Evaluation.objects.filter(cluster=cluster).delete()
    assert orphans() == NONE and not CheckResult.objects.exists()


def test_deleting_a_waiver_clears_it_from_the_checks(operator):
    cluster = scored("waived")
    waiver = services.waiver_create(
        cluster=cluster, rule="images.tag-pinned", reason="tracked", owner=operator,
        expires_at=NOW + timedelta(days=30), created_by=operator, now=NOW,
    )  # fmt: skip
    scored("waived", at=NOW + timedelta(minutes=1))
    assert CheckResult.objects.filter(waiver=waiver).exists()
    Waiver.objects.filter(pk=waiver.pk).delete()
    assert orphans() == NONE
    assert CheckResult.objects.filter(status="waived", waiver__isnull=True).exists()


def test_deleting_a_polled_cluster_or_its_nodes_and_services_leaves_no_task_behind():
    from tests.clusters.conftest import fetcher, load_raw, recorded_now

    raw = load_raw("lab_poll1")
    polled = [Cluster.objects.create(name=n, url="unix:///run/lab.sock") for n in ("a", "b")]
    for cluster in polled:
        pipeline.cluster_poll(cluster=cluster, now=recorded_now(raw), fetch=fetcher(raw))
    a, b = polled
    assert RunningTask.objects.filter(cluster=a, node__isnull=False).exists()
    Node.objects.filter(cluster=b, role="worker").delete()
    Service.objects.filter(cluster=b, name="shop-api").delete()
    assert orphans() == NONE
    assert RunningTask.objects.filter(cluster=b, node__isnull=True).exists()
    a.delete()
    assert orphans() == NONE and not RunningTask.objects.filter(cluster_id=a.pk).exists()
    assert RunningTask.objects.filter(cluster=b).exists()
