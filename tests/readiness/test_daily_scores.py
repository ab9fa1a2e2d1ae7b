"""DailyScore: the database folds every stored evaluation into its cluster's lowest score of
the UTC day; the sparklines read it, thinning evaluations leaves it, retention drops old days."""

from datetime import UTC, date, datetime, timedelta

import pytest

from clusters.models import Cluster
from readiness.models import DailyScore, Evaluation
from readiness.selectors import daily_scores
from readiness.services import evaluations_prune

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def evaluation(cluster, at, score):
    return Evaluation(
        cluster=cluster, environment="production", snapshot_at=at, evaluated_at=at,
        score=score, grade="B",
    )  # fmt: skip


def test_it_keeps_the_lowest_score_of_each_utc_day_across_statements():
    cluster = Cluster.objects.create(name="a", url="unix:///var/run/docker.sock")
    other = Cluster.objects.create(name="b", url="unix:///var/run/docker.sock")
    Evaluation.objects.bulk_create(
        [evaluation(cluster, NOW, 80), evaluation(cluster, NOW + timedelta(hours=1), 70)]
    )
    evaluation(cluster, NOW + timedelta(hours=2), 75).save()
    # 23:30 in New York is the next day in UTC.
    evaluation(cluster, datetime(2026, 6, 10, 23, 30, tzinfo=UTC) + timedelta(hours=1), 90).save()
    evaluation(other, NOW, 10).save()

    rows = sorted(DailyScore.objects.filter(cluster=cluster).values_list("day", "low"))
    assert rows == [(date(2026, 6, 10), 70), (date(2026, 6, 11), 90)]
    days = daily_scores(since=NOW - timedelta(days=1), cluster_ids=[cluster.pk])
    assert [low for _, low in days[cluster.pk]] == [70, 90]
    assert days[cluster.pk][0][0] == datetime(2026, 6, 10, tzinfo=UTC)


def test_thinning_keeps_the_day_and_retention_drops_days_past_history(settings):
    settings.WATCHKEEPER_HISTORY_DAYS = 30
    cluster = Cluster.objects.create(name="a", url="unix:///var/run/docker.sock")
    old = NOW - timedelta(days=10)
    Evaluation.objects.bulk_create(
        [evaluation(cluster, old, 90), evaluation(cluster, old + timedelta(hours=3), 40)]
        + [evaluation(cluster, NOW - timedelta(days=40), 50), evaluation(cluster, NOW, 99)]
        + [evaluation(cluster, NOW - timedelta(hours=1), 99)]  # the latest two keep all
    )
    counts = evaluations_prune(now=NOW)

    assert counts["daily_scores"] == 1  # the day 40 days back
    assert Evaluation.objects.filter(evaluated_at__date=old.date()).count() == 1
    lows = dict(DailyScore.objects.values_list("day", "low"))
    assert lows == {old.date(): 40, NOW.date(): 99}
