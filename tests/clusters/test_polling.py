"""A poll: claim, failure handling, scheduling, concurrency."""

import copy
import gc
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection

from clusters import client, polling
from clusters.client import PollFailed
from clusters.models import POLL_CLAIM_TIMEOUT, Cluster, Node, PollRun, PollSnapshot
from dashboard import pipeline, tasks
from tests.clusters.conftest import fetcher

NOW = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_it_polls_scores_and_schedules_the_next_poll(cluster, poll1):
    with mock.patch("dashboard.pipeline.evaluation_run") as evaluation_run:
        outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert outcome.run.ok and outcome.snapshot.taken_at == NOW
    evaluation_run.assert_called_once_with(
        cluster=cluster, snapshot=outcome.snapshot, now=NOW, facts=mock.ANY
    )
    cluster.refresh_from_db()
    assert cluster.poll_claimed_at is None
    assert cluster.next_poll_at == NOW + timedelta(seconds=cluster.poll_interval)
    assert (cluster.last_poll_ok, cluster.last_success_at) == (True, NOW)


@pytest.mark.django_db
def test_it_asks_for_events_since_the_previous_poll(cluster, poll1, poll2):
    fetch = fetcher(poll1, poll2)
    first = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetch)
    pipeline.cluster_poll(cluster=cluster, now=NOW + timedelta(minutes=1), fetch=fetch)
    assert fetch.calls[0]["events_since"] is None
    assert fetch.calls[1]["events_since"] == first.run.events_until


@pytest.mark.django_db
def test_it_records_a_failure_and_keeps_the_last_good_snapshot(cluster, poll1):
    pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))

    def broken(**kwargs):
        raise PollFailed("refused", "Connection refused by tcp://m:2376")

    later = NOW + timedelta(minutes=1)
    outcome = pipeline.cluster_poll(cluster=cluster, now=later, fetch=broken)
    assert not outcome.run.ok and outcome.run.error_kind == "refused"
    assert outcome.run.error == "Connection refused by tcp://m:2376"
    cluster.refresh_from_db()
    assert (cluster.last_poll_ok, cluster.last_success_at) == (False, NOW)
    assert cluster.poll_claimed_at is None
    assert PollSnapshot.objects.count() == 1
    assert Node.objects.filter(removed_at__isnull=True).count() == 3


@pytest.mark.django_db
def test_it_records_a_failure_whose_engine_text_holds_a_nul(cluster):
    def broken(**kwargs):
        raise PollFailed("api_error", "The Docker API answered with an error (500): a\x00b")

    outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=broken)
    assert outcome.run.error == "The Docker API answered with an error (500): a\ufffdb"
    cluster.refresh_from_db()
    assert cluster.last_poll_error == outcome.run.error and cluster.poll_claimed_at is None


@pytest.mark.django_db
def test_it_records_malformed_json_as_a_failure(cluster, poll1):
    poll1["services"] = [{"Spec": {}}]
    outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert outcome.run.error_kind == "malformed"
    assert "cannot read" in outcome.run.error


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["replicas", "state", "hostname", "running"])
def test_it_records_values_that_cannot_be_stored_as_malformed(cluster, poll1, value):
    pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    bad = copy.deepcopy(poll1)
    if value == "replicas":
        bad["services"][0]["Spec"]["Mode"] = {"Replicated": {"Replicas": "many"}}
        bad["services"][0]["Version"]["Index"] += 1  # a new version: not reused
    elif value == "state":
        bad["nodes"][0]["Status"]["State"] = "x" * 40
    elif value == "hostname":
        bad["nodes"][0]["Description"]["Hostname"] = "h" * 300
    else:
        bad["services"][0]["ServiceStatus"]["RunningTasks"] = -1
    outcome = pipeline.cluster_poll(
        cluster=cluster, now=NOW + timedelta(minutes=1), fetch=fetcher(bad)
    )
    assert (outcome.run.ok, outcome.run.error_kind) == (False, "malformed")
    assert "cannot store" in outcome.run.error
    cluster.refresh_from_db()
    assert (cluster.last_poll_ok, cluster.last_success_at, cluster.poll_claimed_at) == (
        False,
        NOW,
        None,
    )
    assert PollSnapshot.objects.count() == 1  # the last good one stays, nothing half-written
    assert set(Node.objects.values_list("state", flat=True)) == {"ready"}


@pytest.mark.django_db
def test_it_survives_a_crashing_scorer(cluster, poll1):
    with mock.patch("readiness.services.evaluation_run", side_effect=RuntimeError("bug")):
        outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert outcome.run.ok


@pytest.mark.django_db
def test_it_notifies_a_node_down_outside_a_window(cluster, poll1):
    from maintenance.models import Reminder

    cluster.recipients.create(email="oncall@example.org")
    pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    poll1["events"] = []
    poll1["nodes"][1]["Status"]["State"] = "down"
    for minute in (1, 2):  # seen down for less than the grace (2 minutes): not yet
        pipeline.cluster_poll(
            cluster=cluster, now=NOW + timedelta(minutes=minute), fetch=fetcher(poll1)
        )
    assert not Reminder.objects.filter(kind="node_down").exists()
    pipeline.cluster_poll(cluster=cluster, now=NOW + timedelta(minutes=3), fetch=fetcher(poll1))
    alert = Reminder.objects.get(kind="node_down")
    assert alert.recipient == "oncall@example.org"
    assert "wk-worker-1" in alert.title


@pytest.mark.django_db
def test_it_does_not_poll_a_cluster_another_poll_holds(cluster, poll1):
    Cluster.objects.filter(pk=cluster.pk).update(poll_claimed_at=NOW - timedelta(minutes=1))
    assert pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1)) is None
    assert PollRun.objects.count() == 0


@pytest.mark.django_db
def test_it_releases_a_stuck_claim_after_the_timeout(cluster, poll1):
    Cluster.objects.filter(pk=cluster.pk).update(poll_claimed_at=NOW - timedelta(minutes=6))
    assert pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1)).run.ok


@pytest.mark.django_db
@pytest.mark.parametrize("ends", ["ok", "failed"])
def test_a_poll_that_outlived_its_claim_writes_nothing(cluster, poll1, ends):
    """Past the claim timeout another poll may take the cluster: only that one writes."""
    taken_over = NOW + POLL_CLAIM_TIMEOUT + timedelta(seconds=1)

    def slow(**kwargs):
        Cluster.objects.filter(pk=cluster.pk).update(poll_claimed_at=taken_over)
        if ends == "failed":
            raise PollFailed("timeout", "no answer")
        return fetcher(poll1)(**kwargs)

    with mock.patch("dashboard.pipeline.evaluation_run") as evaluation_run:
        assert pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=slow) is None
    evaluation_run.assert_not_called()
    assert not PollRun.objects.exists() and not Node.objects.exists()
    cluster.refresh_from_db()
    assert (cluster.poll_claimed_at, cluster.last_poll_at) == (taken_over, None)


@pytest.mark.django_db(transaction=True)
def test_it_runs_one_poll_when_two_start_at_once(poll1):
    cluster = Cluster.objects.create(name="c", url="unix:///x.sock")
    inside = threading.Event()
    release = threading.Event()
    slow_fetch = fetcher(poll1)

    def blocking(**kwargs):
        inside.set()
        release.wait(10)
        return slow_fetch(**kwargs)

    results = {}

    def first():
        try:
            results["first"] = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=blocking)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    results["second"] = pipeline.cluster_poll(
        cluster=Cluster.objects.get(pk=cluster.pk), now=NOW, fetch=fetcher(poll1)
    )
    release.set()
    thread.join(10)
    assert results["second"] is None and results["first"].run.ok
    assert PollRun.objects.filter(cluster=cluster).count() == 1


@pytest.mark.django_db
def test_it_enqueues_due_clusters_once_each(cluster, django_capture_on_commit_callbacks):
    Cluster.objects.create(name="later", url="unix:///x", next_poll_at=NOW + timedelta(hours=1))
    Cluster.objects.create(name="off", url="unix:///x", enabled=False)
    with (
        time_machine.travel(NOW, tick=False),
        mock.patch.object(tasks.poll_cluster, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.enqueue_due_polls() == 1
        assert tasks.enqueue_due_polls() == 0
    delay.assert_called_once_with(cluster.pk)
    cluster.refresh_from_db()
    assert cluster.next_poll_at == NOW + timedelta(seconds=cluster.poll_interval)


@pytest.mark.django_db
def test_each_cluster_is_due_at_its_own_interval_from_one_beat_entry(settings):
    beat = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert [t for t in beat if "poll" in t and t.startswith("dashboard.")] == [
        "dashboard.tasks.enqueue_due_polls"
    ]
    default = Cluster.objects.create(name="default", url="unix:///x.sock")
    slow = Cluster.objects.create(name="slow", url="unix:///x.sock", poll_interval=300)
    assert default.poll_interval == 60
    assert sorted(polling.polls_due(now=NOW)) == sorted([default.pk, slow.pk])
    assert polling.polls_due(now=NOW + timedelta(seconds=59)) == []
    assert polling.polls_due(now=NOW + timedelta(seconds=60)) == [default.pk]
    assert polling.polls_due(now=NOW + timedelta(seconds=299)) == [default.pk]
    assert polling.polls_due(now=NOW + timedelta(seconds=300)) == [slow.pk]


@pytest.mark.django_db
def test_it_polls_from_the_task_without_raising(cluster):
    with mock.patch("clusters.client.fetch", side_effect=PollFailed("timeout", "no answer")):
        run_id = tasks.poll_cluster.run(cluster.pk)
    assert PollRun.objects.get(pk=run_id).error == "no answer"
    assert tasks.poll_cluster.run(999999) is None


@pytest.mark.django_db
def test_it_is_stale_after_three_missed_intervals(cluster):
    cluster.last_success_at = NOW
    assert not cluster.is_stale(NOW + timedelta(seconds=3 * cluster.poll_interval))
    assert cluster.is_stale(NOW + timedelta(seconds=3 * cluster.poll_interval + 1))


@pytest.mark.django_db
def test_it_polls_with_the_collector_paused_and_restores_its_state(cluster, poll1):
    seen = []

    def fetch(**kwargs):
        seen.append(gc.isenabled())
        return fetcher(poll1)(**kwargs)

    pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetch)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        pipeline.cluster_poll(cluster=cluster, now=NOW + timedelta(minutes=1), fetch=fetch)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_worker_keeps_what_it_reuses_within_a_cluster_and_object_budget(monkeypatch):
    from types import SimpleNamespace

    from clusters import normalize

    monkeypatch.setattr(polling, "_REUSE", OrderedDict())
    monkeypatch.setattr(polling, "REUSE_OBJECTS", 10)
    monkeypatch.setattr(polling, "REUSE_CLUSTERS", 3)

    def polled(pk, objects):
        reuse = polling._reuse_for(SimpleNamespace(pk=pk))
        reuse.tasks = {f"t{i}": (1, None) for i in range(objects)}  # what the poll leaves
        polling._reuse_trim()  # as _poll_claimed does once the snapshot is built
        return reuse

    first = polled(1, 4)
    polled(2, 4)
    assert list(polling._REUSE) == [1, 2]
    assert polled(1, 4) is first  # the same cluster gets its own back, now most recent
    polled(3, 4)  # 4 + 4 + 4 > 10: the least recently used (2) goes
    assert list(polling._REUSE) == [1, 3]
    polled(4, 1)
    polled(5, 1)  # four clusters > 3: the oldest (1) goes
    assert list(polling._REUSE) == [3, 4, 5]
    polled(6, 20)  # one cluster beyond the budget is still kept while it is polled
    assert list(polling._REUSE) == [6]
    assert isinstance(polling._REUSE[6], normalize.Reuse)


@pytest.mark.django_db
def test_it_releases_the_claim_on_a_fresh_connection_after_a_database_error(cluster, poll1):
    real_release = polling.poll_release
    calls = []

    def flaky_release(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            from django.db import InterfaceError

            raise InterfaceError("connection already closed")
        return real_release(**kwargs)

    fake_connection = mock.Mock(in_atomic_block=False)  # the test's own transaction stays open
    with (
        mock.patch("dashboard.pipeline.polling.poll_release", side_effect=flaky_release),
        mock.patch("dashboard.pipeline.connection", fake_connection),
    ):
        pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert len(calls) == 2
    fake_connection.close.assert_called_once()
    cluster.refresh_from_db()
    assert cluster.poll_claimed_at is None


def test_a_new_worker_process_carries_the_join_tokens_first_sighting_from_the_store(cluster, poll1):
    """The first sighting of a join token survives a restart (the Reuse memo is per process)."""
    poll1 = dict(
        poll1, swarm=client.swarm_without_tokens({"JoinTokens": {"Worker": "w", "Manager": "m"}})
    )
    pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    polling._REUSE.clear()  # a new worker process
    later = pipeline.cluster_poll(
        cluster=cluster, now=NOW + timedelta(days=3), fetch=fetcher(poll1)
    )
    assert later.snapshot.swarm.worker_token_seen_since == NOW
    assert later.snapshot.swarm.manager_token_seen_since == NOW


@pytest.mark.django_db(transaction=True)
def test_a_database_error_mid_poll_is_recorded_as_a_failed_poll(cluster, poll1):
    from django.db import OperationalError

    with mock.patch(
        "dashboard.pipeline.persistence.poll_persist",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert (outcome.run.ok, outcome.run.error_kind) == (False, "database")
    cluster.refresh_from_db()
    assert (cluster.poll_claimed_at, cluster.last_poll_ok) == (None, False)
    assert "database failed" in cluster.last_poll_error


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_whose_scoring_lost_the_database_is_scored_by_the_next_poll(cluster, poll1):
    from django.db import InterfaceError

    from readiness.models import Evaluation

    with mock.patch(
        "dashboard.pipeline.readiness_services.evaluation_run",
        side_effect=InterfaceError("connection already closed"),
    ):
        outcome = pipeline.cluster_poll(cluster=cluster, now=NOW, fetch=fetcher(poll1))
    assert (outcome.run.ok, outcome.run.error_kind) == (False, "database")
    assert PollSnapshot.objects.count() == 1 and not Evaluation.objects.exists()

    def unreachable(**kwargs):
        raise PollFailed("unreachable", "tcp://m:2376 cannot be reached")

    pipeline.cluster_poll(cluster=cluster, now=NOW + timedelta(minutes=1), fetch=unreachable)
    evaluation = Evaluation.objects.get()
    assert evaluation.snapshot_at == PollSnapshot.objects.get().taken_at
    pipeline.cluster_poll(cluster=cluster, now=NOW + timedelta(minutes=2), fetch=unreachable)
    assert Evaluation.objects.count() == 1  # scored once, not at every poll
