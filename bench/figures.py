"""Figures of the bench: each with its unit and, when the issue sets one, its target."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

# Every figure a run reports, whatever its size (tests/test_bench.py checks them all).
NAMES = (
    "swarm.first_poll", "swarm.first_poll.fetch", "swarm.first_poll.processing",
    "swarm.steady_poll", "swarm.steady_poll.fetch", "swarm.steady_poll.processing",
    "swarm.sql_per_poll", "swarm.sql_first_poll", "swarm.peak_memory",
    "swarm.kept_between_polls",
    "page.cluster", "page.cluster.html", "page.cluster.sql", "page.findings",
    "page.findings.sql", "page.fleet", "page.fleet.sql",
    "fleet.polls_per_second", "fleet.capacity", "fleet.lag_p95", "fleet.lag_max",
    "fleet.backlog_at_end", "fleet.overlapping_polls", "fleet.failed_polls",
    "fleet.worker_peak_rss", "fleet.beat_entries", "fleet.beat_tick_sql",
    "fleet.beat_tick_median",
    "history.db_size", "history.per_cluster", "history.fleet_db_size", "history.prune",
    "history.fleet_page",
    "bench.duration",
)  # fmt: skip


@dataclass
class Figure:
    name: str
    value: float | int | str | None
    unit: str
    target: str | None = None  # e.g. "< 15", "<= fetch", "== 33"; None: reported only
    met: bool | None = None  # None when there is no target
    note: str = ""  # shown in the table only

    def public(self) -> dict:
        data = asdict(self)
        data.pop("note")
        return data


def below(name: str, value: float, unit: str, limit: float, note: str = "") -> Figure:
    return Figure(name, value, unit, f"< {limit:g}", value < limit, note)


def at_least(name: str, value: float, unit: str, limit: float, note: str = "") -> Figure:
    return Figure(name, value, unit, f">= {limit:g}", value >= limit, note)


def table(figures: list[Figure]) -> str:
    """The figures as a text table: name, value and unit, target, met."""
    rows = [("figure", "value", "target", "met", "")]
    for f in figures:
        value = str(f.value)
        if isinstance(f.value, float):
            value = f"{f.value:,.3f}".rstrip("0").rstrip(".")
        met = "" if f.met is None else ("ok" if f.met else "MISS")
        rows.append((f.name, f"{value} {f.unit}".strip(), f.target or "", met, f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for r in rows:
        cells = [r[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join(cells + [r[4]]).rstrip())
    return "\n".join(lines)


def write(figures: list[Figure], out_dir: Path, size: str) -> Path:
    """var/bench/latest.json (the list) and a timestamped copy; returns the copy's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = [f.public() for f in figures]
    text = json.dumps(data, indent=1)
    (out_dir / "latest.json").write_text(text)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-{size}-{stamp}.json"
    path.write_text(text)
    return path
