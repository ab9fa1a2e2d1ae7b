"""Checklist runs: due times from a target in a zone, overdue reminders, the DNS probe."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from clusters.snapshot import Node
from maintenance import checklists
from maintenance.models import ChecklistRun, Reminder
from maintenance.services import checklists as checklist_services
from maintenance.services import tick as scheduler

from .dnsserver import LoopbackDNS
from .factories import node, snapshot

NOW = datetime(2027, 3, 20, 8, 0, tzinfo=UTC)


def test_it_defines_the_built_in_templates():
    switchover = checklists.TEMPLATES["switchover"]
    assert [s.offset_label for s in switchover.steps] == ["T-7d", "T-7d", "T-48h", "T-24h", "T-0"]
    assert [s.probe for s in switchover.steps].count("dns") == 1
    go_live = checklists.TEMPLATES["go-live"]
    assert len(go_live.steps) == 10


@pytest.mark.django_db
def test_cli_starts_a_switchover_with_steps_due_at_their_offsets(cluster):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command(
            "maintenance", "checklist", "start", "prod", "--template", "switchover",
            "--at", "2027-04-01T10:00", "--tz", "Europe/Berlin", stdout=out,
        )  # fmt: skip
    run = ChecklistRun.objects.get()
    assert run.target_at == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST
    due = {step.offset_label: step.due_at for step in run.steps.all()}
    # T-7d is 10:00 local on 25 March, still CET: the calendar moves, the wall time stays
    assert due["T-7d"] == datetime(2027, 3, 25, 9, 0, tzinfo=UTC)
    assert due["T-48h"] == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
    assert due["T-24h"] == datetime(2027, 3, 31, 8, 0, tzinfo=UTC)
    assert due["T-0"] == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
    assert "Production switchover" in out.getvalue()
    assert [s.probe_target for s in run.steps.all() if s.probe == "dns"] == [""]


@pytest.mark.django_db
def test_cli_names_the_dns_name_the_switchover_checks(cluster):
    call_command(
        "maintenance", "checklist", "start", "prod", "--template", "switchover",
        "--at", "2027-04-01T10:00", "--tz", "UTC", "--dns-name", "App.Example.com.",
        stdout=StringIO(),
    )  # fmt: skip
    run = ChecklistRun.objects.get()
    assert [s.probe_target for s in run.steps.all() if s.probe == "dns"] == ["app.example.com"]


@pytest.mark.django_db
def test_it_reminds_overdue_steps_daily_until_done(cluster, recipients, locmem, operator):
    run = checklist_services.checklist_start(
        cluster=cluster, template="go-live", target=datetime(2027, 4, 1, 10, 0),
        tz="Asia/Kolkata", now=NOW,
    )  # fmt: skip
    first = run.steps.order_by("due_at").first()
    assert first.due_at == datetime(2027, 3, 18, 4, 30, tzinfo=UTC)  # T-14d, 10:00 IST
    with time_machine.travel(NOW, tick=False):
        scheduler.tick(now=NOW)
    overdue = Reminder.objects.filter(kind="checklist_step_due", recipient="ops@example.org")
    assert overdue.count() == 5  # the five T-14d steps, once each
    scheduler.tick(now=NOW + timedelta(hours=1))
    assert overdue.count() == 5
    scheduler.tick(now=NOW + timedelta(days=1))
    assert overdue.count() == 10
    for step in run.steps.filter(due_at__lte=NOW):
        checklist_services.run_step_mark(
            step=step, done=True, user=operator, note="checked", now=NOW
        )
    scheduler.tick(now=NOW + timedelta(days=2))
    assert overdue.count() == 10  # done steps are no longer reminded
    # T-7d steps fall due on 25 March
    scheduler.tick(now=datetime(2027, 3, 25, 4, 30, tzinfo=UTC))
    assert overdue.count() == 15
    assert all(r.status == "sent" for r in Reminder.objects.all())


def manager_snapshot():
    return snapshot(
        [
            node("m-1", "manager", addr="10.0.0.10", manager_addr="10.0.0.10:2377"),
            node("w-1", addr="10.0.0.11"),
        ]
    )


@pytest.fixture
def swarm(monkeypatch):
    snap = manager_snapshot()
    monkeypatch.setattr("clusters.selectors.latest_snapshot", lambda *, cluster: snap)
    return snap


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("addresses", "ttl", "result", "warns"),
    [
        (["10.0.0.10"], 300, "passed", False),
        (["10.0.0.10", "192.0.2.7"], 60, "passed", False),  # 192.0.2.7 is configured ingress
        (["10.0.0.10"], 3600, "passed", True),
        (["10.0.0.11"], 60, "failed", False),  # a worker, not where ingress is pinned
    ],
)
def test_it_probes_the_dns_step(cluster, swarm, addresses, ttl, result, warns):
    cluster.ingress_addresses = "192.0.2.7"
    with LoopbackDNS({"app.example.test": (addresses, ttl)}) as server:
        cluster.dns_server = server.address
        cluster.save()
        run = checklist_services.checklist_start(
            cluster=cluster, template="switchover", target=datetime(2027, 4, 1, 10, 0),
            tz="Europe/Berlin", now=NOW, dns_hostname="app.example.test",
        )  # fmt: skip
        step = run.steps.get(probe="dns")
        scheduler.tick(now=NOW)
        step.refresh_from_db()
    assert step.probe_result == result
    assert step.probe_at == NOW
    assert f"TTL {ttl} s" in step.probe_detail
    assert bool(step.probe_warning) is warns
    assert server.queries == ["app.example.test"]


@pytest.mark.django_db
def test_it_records_a_failed_lookup(cluster, swarm):
    with LoopbackDNS({}) as server:
        cluster.dns_server = server.address
        cluster.save()
        run = checklist_services.checklist_start(
            cluster=cluster, template="switchover", target=datetime(2027, 4, 1, 10, 0),
            tz="Europe/Berlin", now=NOW, dns_hostname="missing.example.test",
        )  # fmt: skip
        step = run.steps.get(probe="dns")
        step = checklist_services.run_step_probe(step=step, now=NOW, timeout=2)
    assert step.probe_result == "failed"
    assert "no A record" in step.probe_detail


def test_node_factory_is_a_snapshot_node():
    assert isinstance(node("x"), Node)
