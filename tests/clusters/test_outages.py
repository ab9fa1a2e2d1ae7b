"""Outage notices of the poll (dashboard.outages): a node down only after the grace, never on
"unknown"; one "cluster unreachable" after the grace and one "back"; no finding flood while a
restarted manager reports nodes unknown."""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters.client import PollFailed
from dashboard import outages, pipeline
from maintenance.models import Reminder
from readiness.models import ClusterPolicy, Evaluation
from tests.clusters.conftest import fetcher

NOW = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def unreachable(**kwargs):
    raise PollFailed("unreachable", "tcp://m:2376 cannot be reached (network error).")


@pytest.fixture
def watched(cluster):
    cluster.recipients.create(email="oncall@example.org")
    return cluster


def worker_state(raw: dict, state: str) -> dict:
    raw = copy.deepcopy(raw)
    raw["events"] = []
    raw["nodes"][1]["Status"]["State"] = state
    return raw


def kinds() -> list[str]:
    """The outage notices queued (the first poll's findings aside)."""
    outages = ("node_down", "cluster_unreachable", "cluster_back")
    return sorted(Reminder.objects.filter(kind__in=outages).values_list("kind", flat=True))


@pytest.mark.django_db
def test_a_node_unknown_for_long_is_never_mailed_down(watched, poll1):
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    unknown = worker_state(poll1, "unknown")
    for minute in range(1, 11):
        pipeline.cluster_poll(cluster=watched, now=at(minute), fetch=fetcher(unknown))
    assert "node_down" not in kinds()


@pytest.mark.django_db
def test_a_node_down_is_mailed_once_after_the_grace_and_again_after_it_came_back(watched, poll1):
    down = worker_state(poll1, "down")
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=fetcher(down))
    pipeline.cluster_poll(cluster=watched, now=at(2.9), fetch=fetcher(down))
    assert "node_down" not in kinds()
    for minute in (3, 4, 5):
        pipeline.cluster_poll(cluster=watched, now=at(minute), fetch=fetcher(down))
    alert = Reminder.objects.get(kind="node_down")
    assert alert.title == "Node wk-worker-1 is down"
    pipeline.cluster_poll(cluster=watched, now=at(6), fetch=fetcher(worker_state(poll1, "ready")))
    for minute in (7, 9):
        pipeline.cluster_poll(cluster=watched, now=at(minute), fetch=fetcher(down))
    assert kinds().count("node_down") == 2


@pytest.mark.django_db
def test_every_node_down_is_mailed_in_a_constant_number_of_statements(watched, poll1):
    def all_down(count: int) -> dict:
        raw = copy.deepcopy(poll1)
        raw["events"] = []
        workers = [n for n in raw["nodes"] if n["Spec"]["Role"] == "worker"]
        for node in workers[:count]:
            node["Status"]["State"] = "down"
        return raw

    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    statements = []
    for count, start in ((1, 10), (2, 20)):
        raw = all_down(count)
        pipeline.cluster_poll(cluster=watched, now=at(start), fetch=fetcher(raw))
        pipeline.cluster_poll(cluster=watched, now=at(start + 1), fetch=fetcher(raw))
        with CaptureQueriesContext(connection) as queries:  # the poll that mails them
            pipeline.cluster_poll(cluster=watched, now=at(start + 3), fetch=fetcher(raw))
        statements.append(len(queries))
        pipeline.cluster_poll(cluster=watched, now=at(start + 4), fetch=fetcher(poll1))
    assert kinds().count("node_down") == 3  # 1, then 2 (each run of "seen down" once)
    assert statements[0] == statements[1]


@pytest.mark.django_db
def test_the_grace_follows_the_policy_and_a_failed_poll_restarts_it(watched, poll1):
    ClusterPolicy.objects.create(cluster=watched, data={"down_grace_minutes": 5}, updated_at=NOW)
    down = worker_state(poll1, "down")
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=fetcher(down))
    pipeline.cluster_poll(cluster=watched, now=at(4), fetch=fetcher(down))
    pipeline.cluster_poll(cluster=watched, now=at(5), fetch=unreachable)  # the manager failed
    pipeline.cluster_poll(cluster=watched, now=at(7), fetch=fetcher(down))
    pipeline.cluster_poll(cluster=watched, now=at(11), fetch=fetcher(down))
    assert "node_down" not in kinds()
    pipeline.cluster_poll(cluster=watched, now=at(12), fetch=fetcher(down))
    assert kinds() == ["node_down"]


@pytest.mark.django_db
def test_an_unreachable_manager_sends_one_notice_after_the_grace_and_one_back(watched, poll1):
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=unreachable)
    pipeline.cluster_poll(cluster=watched, now=at(2), fetch=unreachable)
    assert kinds() == []
    for minute in (3, 4, 5, 6):
        pipeline.cluster_poll(cluster=watched, now=at(minute), fetch=unreachable)
    notice = Reminder.objects.get(kind="cluster_unreachable")
    assert notice.title == "lab is unreachable"
    assert "since 2026-11-22 03:31:00 UTC" in notice.body and "network error" in notice.body
    settling = worker_state(poll1, "unknown")
    for minute in (7, 8):
        pipeline.cluster_poll(cluster=watched, now=at(minute), fetch=fetcher(settling))
    pipeline.cluster_poll(cluster=watched, now=at(9), fetch=fetcher(poll1))
    assert kinds() == ["cluster_back", "cluster_unreachable"]
    back = Reminder.objects.get(kind="cluster_back")
    assert back.title == "lab is reachable again" and "03:37:00 UTC" in back.body


@pytest.mark.django_db
def test_an_outage_shorter_than_the_grace_sends_nothing(watched, poll1):
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=unreachable)
    pipeline.cluster_poll(cluster=watched, now=at(2.5), fetch=unreachable)
    pipeline.cluster_poll(cluster=watched, now=at(3), fetch=fetcher(poll1))
    assert kinds() == []


@pytest.mark.django_db
def test_no_finding_is_mailed_while_a_restarted_manager_reports_nodes_unknown(watched, poll1):
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    before = set(Reminder.objects.values_list("subject_key", flat=True))
    all_unknown = copy.deepcopy(poll1)
    all_unknown["events"] = []
    for node in all_unknown["nodes"][1:]:
        node["Status"]["State"] = "unknown"
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=fetcher(all_unknown))
    settling = Evaluation.objects.first()
    assert settling.nodes_unknown == 2
    assert set(Reminder.objects.values_list("subject_key", flat=True)) == before
    pipeline.cluster_poll(cluster=watched, now=at(2), fetch=fetcher(poll1))
    assert set(Reminder.objects.values_list("subject_key", flat=True)) == before


@pytest.mark.django_db
def test_a_finding_that_appears_while_nodes_are_unknown_is_mailed_once_they_are_known(
    watched, poll1
):
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    before = Reminder.objects.filter(kind="critical_finding").count()
    assert not Reminder.objects.filter(subject_key__startswith="topology.nodes-ready").exists()
    broken = copy.deepcopy(poll1)
    broken["events"] = []
    broken["nodes"] = broken["nodes"][:1] + [
        dict(n, Status=dict(n["Status"], State="unknown")) for n in broken["nodes"][1:]
    ]
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=fetcher(broken))
    assert Reminder.objects.filter(kind="critical_finding").count() == before
    # Known again, but the worker is now gone for good: whatever fails now and did not fail
    # at the last settled evaluation is mailed (nothing is lost by waiting).
    gone = copy.deepcopy(poll1)
    gone["events"] = []
    gone["nodes"][1]["Status"]["State"] = "down"
    gone["nodes"][2]["Status"]["State"] = "down"
    pipeline.cluster_poll(cluster=watched, now=at(2), fetch=fetcher(gone))
    assert Evaluation.objects.first().nodes_unknown == 0
    mailed = Reminder.objects.filter(kind="critical_finding", subject_key__startswith="topology.")
    assert sorted(key.split("|")[0] for key in mailed.values_list("subject_key", flat=True)) == [
        "topology.nodes-ready",
        "topology.nodes-ready",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 2])
def test_nodes_down_are_queued_in_the_same_statements_however_many(watched, poll1, count):
    down = copy.deepcopy(poll1)
    down["events"] = []
    for node in down["nodes"][1 : 1 + count]:
        node["Status"]["State"] = "down"
    pipeline.cluster_poll(cluster=watched, now=NOW, fetch=fetcher(poll1))
    pipeline.cluster_poll(cluster=watched, now=at(1), fetch=fetcher(down))
    with CaptureQueriesContext(connection) as queries:
        assert outages.nodes_down_notify(cluster=watched, now=at(3), in_window=False) == count
    assert kinds() == ["node_down"] * count
    assert len(queries) == 6  # policy, nodes down, channels, recipients, known keys, insert
