"""History thinning: detail for a while, then one row per UTC day, then nothing."""

from datetime import UTC, datetime, timedelta

from watchkeeper.retention import to_prune

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DETAIL = timedelta(hours=48)


def rows(*instants):
    return list(enumerate(instants, start=1))


def test_it_keeps_everything_inside_the_detail_window():
    recent = rows(NOW - timedelta(minutes=1), NOW - timedelta(hours=47))
    assert to_prune(recent, now=NOW, detail=DETAIL, days=400) == []


def test_it_keeps_the_first_row_of_each_older_day():
    day = datetime(2026, 11, 1, tzinfo=UTC)
    old = rows(day + timedelta(hours=9), day + timedelta(hours=3), day + timedelta(hours=23),
               day + timedelta(days=1, minutes=5))  # fmt: skip
    assert to_prune(old, now=NOW, detail=DETAIL, days=400) == [1, 3]


def test_it_drops_rows_past_the_history_horizon():
    ancient = rows(NOW - timedelta(days=401), NOW - timedelta(days=10))
    assert to_prune(ancient, now=NOW, detail=DETAIL, days=400) == [1]
