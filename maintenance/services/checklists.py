"""Writes of checklist runs: start a run, tick a step, run a step's DNS probe."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from audit import services as audit
from clusters.models import Cluster
from maintenance import checklists, dnsprobe, selectors
from maintenance import occurrences as occ
from maintenance.models import ChecklistRun, Reminder, RunStep

PROBE_EVERY = timedelta(minutes=15)


# A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


@transaction.atomic
def checklist_start(
    *,
    cluster: Cluster,
    template: str,
    target: datetime,
    tz: str,
    now: datetime,
    user=None,
    dns_hostname: str = "",
) -> ChecklistRun:
    """Start a run of a built-in template; a naive TARGET is wall time in TZ. DNS_HOSTNAME
    (optional) is the name the switchover's DNS step checks."""
    spec = checklists.TEMPLATES.get(template)
    if spec is None:
        raise ValidationError(
            f"Unknown template {template!r}; use {' or '.join(checklists.TEMPLATES)}."
        )
    dns_hostname = dns_hostname.strip().rstrip(".").lower()
    if dns_hostname and not _HOSTNAME.fullmatch(dns_hostname):
        raise ValidationError(
            f"{dns_hostname[:80]!r} is not a DNS name (letters, digits and hyphens in "
            "dot-separated labels, like app.example.com)."
        )
    try:
        target_utc = occ.local_target(target, tz)
    except occ.ScheduleError as exc:
        raise ValidationError(str(exc)) from None
    run = ChecklistRun.objects.create(
        cluster=cluster,
        template=spec.key,
        title=spec.title,
        target_at=target_utc,
        tz=tz,
        started_by=user,
        created_at=now,
    )
    RunStep.objects.bulk_create(
        RunStep(
            run=run,
            position=position,
            key=step.key,
            title=step.title,
            detail=step.detail,
            offset_label=step.offset_label,
            owner=step.owner,
            due_at=occ.offset_from(target_utc, days=step.days, hours=step.hours, tz_name=tz),
            probe=step.probe,
            probe_target=dns_hostname if step.probe == "dns" else "",
        )
        for position, step in enumerate(spec.steps, start=1)
    )
    audit.record(
        action="checklist.start",
        obj=run,
        object_type="checklistrun",
        after={
            "cluster": cluster.name,
            "template": spec.key,
            "target_at": target_utc.isoformat(),
            "tz": tz,
            "dns_hostname": dns_hostname,
        },
    )
    return run


def run_step_mark(*, step: RunStep, done: bool, user, now: datetime, note: str = "") -> RunStep:
    """Tick (or untick) a checklist step, with who, when and a note."""
    before = {"done": step.done, "note": step.note}
    step.done = done
    step.done_by = user if done else None
    step.done_at = now if done else None
    if note:
        step.note = note.strip()
    step.save(update_fields=["done", "done_by", "done_at", "note"])
    audit.record(
        action="checklist.step_tick" if done else "checklist.step_untick",
        obj=f"run {step.run_id} step {step.position}: {step.title}",
        object_type="runstep",
        before=before,
        after={"done": step.done, "note": step.note},
    )
    if done:
        Reminder.objects.filter(
            subject_key__startswith=f"step:{step.pk}:", status=Reminder.Status.PENDING
        ).delete()
    return step


def run_step_probe(*, step: RunStep, now: datetime, timeout: float = 5.0) -> RunStep:
    """Run the step's probe now and record result, time, detail and warning."""
    if step.probe != "dns" or not step.probe_target:
        raise ValidationError("This step has no DNS hostname to probe.")
    cluster = step.run.cluster
    outcome = dnsprobe.probe(
        hostname=step.probe_target,
        allowed=selectors.allowed_ingress_addresses(cluster),
        server=cluster.dns_server,
        timeout=timeout,
    )
    step.probe_result = RunStep.ProbeResult.PASSED if outcome.passed else RunStep.ProbeResult.FAILED
    step.probe_at = now
    step.probe_detail = outcome.detail
    step.probe_warning = outcome.warning
    step.save(update_fields=["probe_result", "probe_at", "probe_detail", "probe_warning"])
    return step


def checklist_probes_run(*, now: datetime) -> int:
    ran = 0
    steps = (
        RunStep.objects.filter(probe="dns", done=False, run__target_at__gt=now)
        .exclude(probe_target="")
        .filter(Q(probe_at__isnull=True) | Q(probe_at__lte=now - PROBE_EVERY))
        .select_related("run__cluster")
    )
    for step in steps:
        run_step_probe(step=step, now=now)
        ran += 1
    return ran
