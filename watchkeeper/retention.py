"""Which history rows to drop: everything stays for a while, then one per UTC day. Pure code."""

from collections.abc import Iterable
from datetime import datetime, timedelta


def to_prune(
    rows: Iterable[tuple[int, datetime]], *, now: datetime, detail: timedelta, days: int
) -> list[int]:
    """Ids of ROWS (id, instant) to delete.

    Rows newer than NOW - DETAIL all stay; older ones keep the earliest row of each UTC day for
    DAYS days; the rest go.
    """
    detail_from = now - detail
    history_from = now - timedelta(days=days)
    first_of_day: dict[object, tuple[datetime, int]] = {}
    doomed = []
    for row_id, at in rows:
        if at >= detail_from:
            continue
        if at < history_from:
            doomed.append(row_id)
            continue
        day = at.date()
        kept = first_of_day.get(day)
        if kept is None or (at, row_id) < kept:
            if kept is not None:
                doomed.append(kept[1])
            first_of_day[day] = (at, row_id)
        else:
            doomed.append(row_id)
    return sorted(doomed)
