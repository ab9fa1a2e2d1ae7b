"""The scheduler tick: materialise, verify, drain assist, probe, remind, send."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from maintenance.models import Occurrence, Window
from maintenance.services.checklists import checklist_probes_run
from maintenance.services.drain import drain_assist_step
from maintenance.services.notices import end_notices_enqueue, start_notices_enqueue
from maintenance.services.outbox import SendResult, reminders_send_due
from maintenance.services.reminders import (
    backup_reminders_enqueue,
    checklist_reminders_enqueue,
    occurrence_reminders_enqueue,
)
from maintenance.services.windows import (
    REFRESH_AFTER_END,
    occurrence_refresh,
    occurrences_materialise,
)

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    materialised: int = 0
    refreshed: int = 0
    drain_actions: list[str] = field(default_factory=list)
    probes: int = 0
    reminders_created: int = 0
    send: SendResult = field(default_factory=SendResult)

    def summary(self) -> str:
        return (
            f"materialised {self.materialised}, refreshed {self.refreshed}, "
            f"drain {len(self.drain_actions)}, probes {self.probes}, "
            f"reminders created {self.reminders_created}, claimed {self.send.claimed}, "
            f"sent {self.send.sent}, retrying {self.send.retried}, failed {self.send.failed}"
        )


def tick(*, now: datetime, after_claim=None) -> TickResult:
    """One pass of the scheduler: materialise, verify, drain assist, remind (start and end
    notices after the occurrences were refreshed), send."""
    result = TickResult()
    for window in Window.objects.select_related("cluster"):
        result.materialised += occurrences_materialise(window=window, now=now)
    open_or_recent = (
        Occurrence.objects.filter(start__lte=now)
        .filter(
            Q(end__gt=now - REFRESH_AFTER_END)
            # ended while no tick ran (scheduler down): still give it an outcome
            | Q(status__in=[Occurrence.Status.SCHEDULED, Occurrence.Status.IN_PROGRESS])
        )
        .exclude(status__in=[Occurrence.Status.CANCELLED, Occurrence.Status.COMPLETED])
        .select_related("window__cluster")
    )
    for occurrence in open_or_recent:
        occurrence_refresh(occurrence=occurrence, now=now)
        result.refreshed += 1
        if occurrence.window.cluster.drain_assist:
            try:
                action = drain_assist_step(occurrence=occurrence, now=now)
            except Exception as exc:  # noqa: BLE001 - the Docker API fails many ways; recorded
                log.warning("drain assist for occurrence %s: %s", occurrence.pk, exc)
                occurrence.drain_state = {
                    **(occurrence.drain_state or {}),
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                }
                occurrence.save(update_fields=["drain_state"])
                action = None
            if action:
                result.drain_actions.append(action)
    result.probes = checklist_probes_run(now=now)
    result.reminders_created = (
        occurrence_reminders_enqueue(now=now)
        + backup_reminders_enqueue(now=now)
        + checklist_reminders_enqueue(now=now)
        + start_notices_enqueue(now=now)
        + end_notices_enqueue(now=now)
    )
    result.send = reminders_send_due(now=now, after_claim=after_claim)
    return result
