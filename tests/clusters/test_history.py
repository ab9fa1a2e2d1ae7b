"""Old snapshots are thinned to one a day; the latest always stays; old failed runs go."""

from datetime import UTC, datetime, timedelta

import pytest

from clusters import persistence
from clusters.models import Cluster, PollRun, PollSnapshot

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def snapshot_at(cluster, at):
    run = PollRun.objects.create(cluster=cluster, started_at=at, ok=True)
    return PollSnapshot.objects.create(poll_run=run, cluster=cluster, taken_at=at, data=b"x")


def test_it_thins_snapshots_and_drops_old_failed_runs():
    cluster = Cluster.objects.create(name="c", url="unix:///x.sock")
    day = NOW - timedelta(days=5)
    first = snapshot_at(cluster, day.replace(hour=1))
    later_same_day = snapshot_at(cluster, day.replace(hour=2))
    recent = snapshot_at(cluster, NOW - timedelta(hours=1))
    PollRun.objects.create(cluster=cluster, started_at=NOW - timedelta(days=31), ok=False)
    fresh_failure = PollRun.objects.create(cluster=cluster, started_at=NOW - timedelta(days=2))

    assert persistence.history_prune(now=NOW) == {"snapshots": 1, "poll_runs": 1}
    assert set(PollSnapshot.objects.values_list("pk", flat=True)) == {first.pk, recent.pk}
    thinned_run = PollRun.objects.get(pk=later_same_day.poll_run_id)  # the run's record stays
    assert not PollSnapshot.objects.filter(poll_run=thinned_run).exists()
    assert PollRun.objects.filter(pk=fresh_failure.pk).exists()


def test_it_never_drops_the_latest_snapshot_of_a_cluster():
    cluster = Cluster.objects.create(name="quiet", url="unix:///x.sock")
    day = NOW - timedelta(days=3)
    snapshot_at(cluster, day.replace(hour=1))
    last = snapshot_at(cluster, day.replace(hour=5))
    persistence.history_prune(now=NOW)
    assert PollSnapshot.objects.filter(pk=last.pk).exists()
