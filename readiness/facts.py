"""Facts the operations rules read, gathered by the maintenance app. Pure data, no Django."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class WindowFact:
    """One weekly maintenance window of the cluster."""

    name: str
    duration_minutes: int
    active: bool  # active today (inside active-from / active-until)


@dataclass(frozen=True)
class BackupFact:
    """One registered backup and its restore-test state."""

    name: str
    interval_days: int
    last_passed_at: datetime | None
    state: str  # ok | due_soon | overdue | never_validated
    kind: str = "data"  # data | swarm_raft (the swarm's own raft state)


@dataclass(frozen=True)
class OperationsFacts:
    """What the maintenance app knows about a cluster at one moment."""

    windows: list[WindowFact] = field(default_factory=list)
    in_window_now: bool = False  # `now` falls inside an occurrence of one of its windows
    last_reboot: dict[str, datetime] = field(default_factory=dict)  # node id -> verified reboot
    backups: list[BackupFact] = field(default_factory=list)
    recipients: int = 0
