"""The audit log page (admins), its CSV/JSON downloads and `manage.py audit export`; the
remaining changes that are recorded (backups, checklists, reboot confirmation, calendar token,
policy)."""

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit import services as audit
from audit.models import AuditEvent
from clusters.models import Cluster
from maintenance.models import Occurrence
from maintenance.services import backups, checklists, windows
from readiness import services as readiness_services

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def event(action, obj, *, at=NOW, via="cli", name="root", after=None, **actor):
    with audit.acting(audit.Actor(via=via, name=name, **actor)):
        row = audit.record(action=action, obj=obj, object_type="thing", after=after)
    return row


@pytest.fixture
def events(monkeypatch):
    """Three events at known times: the clock of record() is timezone.now()."""
    made = []
    for at, action, obj, via in (
        (NOW - timedelta(days=10), "waiver.create", '=HYPERLINK("x")', "web"),
        (NOW - timedelta(days=2), "window.update", "weekly", "api"),
        (NOW - timedelta(hours=1), "cluster.update", "prod", "cli"),
    ):
        monkeypatch.setattr("audit.services.timezone.now", lambda at=at: at)
        made.append(event(action, obj, via=via, after={"k": "v"}, token_prefix="wk_ab12"
                          if via == "api" else ""))  # fmt: skip
    monkeypatch.undo()
    return made


def export(*args):
    out = io.StringIO()
    call_command("audit", "export", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_json_export_has_exactly_the_documented_keys_oldest_first(events):
    rows = json.loads(export("--format", "json"))
    assert [row["action"] for row in rows] == ["waiver.create", "window.update", "cluster.update"]
    assert all(
        set(row) == {"at", "actor", "via", "action", "object_type", "object", "before", "after"}
        for row in rows
    )
    assert rows[1]["via"] == "api" and rows[1]["actor"] == "root (token wk_ab12)"
    assert rows[2]["at"] == (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def test_since_filters_and_a_bad_since_exits_2(events, tmp_path):
    rows = json.loads(
        export("--format", "json", "--since", (NOW - timedelta(days=3)).date().isoformat())
    )
    assert [row["object"] for row in rows] == ["weekly", "prod"]
    with pytest.raises(CommandError, match="not an ISO 8601") as raised:
        export("--since", "last tuesday")
    assert raised.value.returncode == 2
    target = tmp_path / "audit.csv"
    export("--format", "csv", "--output", str(target), "--via", "web")
    lines = list(csv.reader(target.open()))
    assert lines[0] == ["at", "actor", "via", "action", "object_type", "object", "before", "after"]
    assert len(lines) == 2 and lines[1][5] == '\'=HYPERLINK("x")'  # formula defused


def test_the_page_filters_and_the_csv_download_follows_the_filters(client, admin_user, events):
    client.force_login(admin_user)
    page = client.get(reverse("clusters:audit"), {"via": "api"}).content.decode()
    assert "<code>window.update</code>" in page and "<code>waiver.create</code>" not in page
    assert page.count('<option value="thing">') == 1
    assert "wk_ab12" in page
    response = client.get(reverse("clusters:audit_csv"), {"action": "cluster.update"})
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert "cluster.update" in body and "window.update" not in body
    response = client.get(reverse("clusters:audit_json"), {"object_type": "thing"})
    assert len(json.loads(b"".join(response.streaming_content))) == 3


def test_a_bad_date_on_the_page_says_so(client, admin_user, events):
    client.force_login(admin_user)
    response = client.get(reverse("clusters:audit"), {"since": "yesterday"})
    assert response.status_code == 400
    assert "not an ISO 8601" in response.content.decode()
    assert client.get(reverse("clusters:audit_csv"), {"since": "x"}).status_code == 400


def test_cluster_text_is_escaped_on_the_page(client, admin_user):
    event("cluster.update", "<script>alert(1)</script>")
    client.force_login(admin_user)
    page = client.get(reverse("clusters:audit")).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_backups_checklists_reboots_calendar_token_and_policy_are_recorded(admin_user, operator):
    cluster = Cluster.objects.create(name="prod", url="unix:///run/docker.sock")
    token = cluster.calendar_token
    with audit.acting(audit.Actor(via="web", user=operator)):
        backup = backups.backup_create(cluster=cluster, name="orders", interval_days=30, now=NOW)
        backups.backup_validate(backup=backup, evidence="restored to staging", passed=True, now=NOW)
        run = checklists.checklist_start(
            cluster=cluster, template="switchover", tz="UTC", now=NOW,
            target=datetime(2026, 12, 9, 10, 0),
        )  # fmt: skip
        checklists.run_step_mark(step=run.steps.first(), done=True, user=operator, now=NOW)
        windows.window_create(
            cluster=cluster, weekdays="sat", start_time=time(2, 0), duration_minutes=60,
            tz="UTC", name="weekly", now=NOW - timedelta(days=7),
        )  # fmt: skip
        occurrence = Occurrence.objects.filter(start__lt=NOW).order_by("-start").first()
        occurrence.expected_nodes = {"n1": "node-1"}
        occurrence.save()
        windows.occurrence_confirm_reboot(
            occurrence=occurrence, node_id="n1", user=operator, note="uptime 3 min", now=NOW
        )
    with audit.acting(audit.Actor(via="web", user=admin_user)):
        windows.calendar_token_rotate(cluster=cluster)
        readiness_services.policy_update(
            cluster=cluster, data={"window_max_minutes": 120}, by=admin_user, now=NOW
        )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "backup.create", "backup.validate", "checklist.start", "checklist.step_tick",
        "occurrence.confirm_reboot", "calendar_token.rotate", "policy.update",
    } <= actions  # fmt: skip
    dump = json.dumps(list(AuditEvent.objects.values("before", "after")))
    cluster.refresh_from_db()
    assert token not in dump and cluster.calendar_token not in dump
    policy = AuditEvent.objects.get(action="policy.update")
    assert policy.after == {"window_max_minutes": 120} and policy.user == admin_user
