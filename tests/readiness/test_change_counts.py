"""What changed, counted: readiness.changes.net_change_count (the cluster page's week) against
the row-by-row fold of net_changes, over histories written by the evaluation's own writer, and
the latest evaluation's lists counted in SQL against sorting them in Python."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from clusters.models import Cluster
from readiness.changes import net_change_count, net_changes
from readiness.checks import FAIL, Check, Obj
from readiness.cluster_selectors import CHANGES_SHOWN, Changes, what_changed
from readiness.models import Evaluation, FailureChange
from readiness.services import _store_changes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# names whose order differs between code points (Python) and a linguistic collation
NAMES = ["a", "B", "b", "a_1", "a-1", "Z", "é", "e", "ä", "svc 2", "svc10"]
RULES = ["images.tag-pinned", "config.Secret", "health.converged"]


def _appeared(rule: str, name: str) -> Check:
    return Check(rule, "c", "warning", FAIL, Obj("service", "", name), f"{rule} on {name}", "")


def _write_history(cluster: Cluster, rng: random.Random, evaluations: int) -> None:
    """EVALUATIONS batches of changes through readiness.services' writer: keys appear and
    resolve, some twice in one evaluation (two objects of one name), some with no change in
    between (a new object of the name of one failing), and now and then rows written by
    something else (not linked)."""
    for n in range(evaluations):
        at = NOW - timedelta(days=9) + timedelta(hours=n * rng.choice([1, 7, 20]))
        keys = [(rng.choice(RULES), rng.choice(NAMES)) for _ in range(rng.randint(0, 6))]
        appeared = [_appeared(rule, name) for rule, name in keys if rng.random() < 0.55]
        resolved = [(r, "service", name, "warning") for r, name in keys if rng.random() < 0.45]
        if rng.random() < 0.15:
            FailureChange.objects.bulk_create(
                FailureChange(cluster=cluster, at=at, appeared=rng.random() < 0.5, rule=rule,
                              severity="warning", object_type="service", object_name=name)
                for rule, name in keys
            )  # fmt: skip
        else:
            _store_changes(cluster=cluster, at=at, appeared=appeared, resolved=resolved)


@pytest.mark.parametrize("seed", range(12))
def test_the_counts_and_first_rows_are_those_of_the_fold(seed):
    rng = random.Random(seed)
    cluster = Cluster.objects.create(name=f"c{seed}", url="unix:///run/c.sock")
    other = Cluster.objects.create(name=f"o{seed}", url="unix:///run/o.sock")
    _write_history(cluster, rng, 40)
    _write_history(other, rng, 10)
    if seed % 3 == 0:  # the prune drops the oldest rows: their followers stay linked to them
        FailureChange.objects.filter(at__lt=NOW - timedelta(days=8)).delete()
    for days in (0.5, 2, 7, 30):
        since = NOW - timedelta(days=days)
        net = net_changes(cluster_ids=[cluster.pk], since=since).get(cluster.pk)
        new, resolved = (sorted(net.new), sorted(net.resolved)) if net else ([], [])
        for shown in (1, 3, CHANGES_SHOWN):
            counted = net_change_count(cluster_id=cluster.pk, since=since, shown=shown)
            assert (counted.new, counted.resolved) == (len(new), len(resolved))
            assert counted.new_first == new[:shown]
            assert counted.resolved_first == resolved[:shown]


def test_a_first_poll_counts_its_failures_without_reading_them(django_assert_num_queries):
    cluster = Cluster.objects.create(name="big", url="unix:///run/big.sock")
    names = [f"svc-{i:04}" for i in range(500)]
    _store_changes(cluster=cluster, at=NOW, appeared=[_appeared("r", n) for n in names],
                   resolved=[])  # fmt: skip
    assert FailureChange.objects.filter(linked=True, previous_at=None).count() == 500
    with django_assert_num_queries(1):
        counted = net_change_count(cluster_id=cluster.pk, since=NOW - timedelta(days=7), shown=8)
    assert (counted.new, counted.resolved) == (500, 0)
    assert counted.new_first == [("r", "service", n) for n in names[:8]]
    # resolved an hour later: both rows are the failures' (followed), and net nothing
    _store_changes(cluster=cluster, at=NOW + timedelta(hours=1), appeared=[],
                   resolved=[("r", "service", n, "warning") for n in names[:10]])  # fmt: skip
    later = FailureChange.objects.filter(appeared=False)
    assert set(later.values_list("previous_at", flat=True)) == {NOW}
    counted = net_change_count(cluster_id=cluster.pk, since=NOW - timedelta(days=7), shown=8)
    assert (counted.new, counted.resolved) == (490, 0)
    assert counted.new_first == [("r", "service", n) for n in names[10:18]]


def test_the_latest_evaluations_lists_are_counted_as_python_sorts_them():
    cluster = Cluster.objects.create(name="c", url="unix:///run/c.sock")
    new = [[rule, "service", name] for rule in RULES for name in NAMES]
    random.Random(1).shuffle(new)
    for n, (lists, first) in enumerate((((new, new[:3]), True), (([], []), False))):
        evaluation = Evaluation.objects.create(
            cluster=cluster, environment="production", snapshot_at=NOW,
            evaluated_at=NOW + timedelta(minutes=n), score=50, grade="D",
            new_failures=lists[0], resolved_failures=lists[1],
        )  # fmt: skip
        changes = what_changed(evaluation=evaluation, since=NOW - timedelta(days=7))
        assert changes.last_poll == Changes.of(*lists)
        assert changes.first_evaluation is first
    expected = sorted(map(tuple, new))
    assert Changes.of(new, []).new_shown == expected[:CHANGES_SHOWN]
    assert Changes.of(new, []).new_count == len(new) > CHANGES_SHOWN
