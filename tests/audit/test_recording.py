import io
import json
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.management import call_command

from accounts import services as account_services
from audit import services as audit
from audit.models import AuditEvent
from clusters import registration
from clusters.models import Cluster
from maintenance.services import windows
from readiness import catalogue
from readiness import services as readiness_services
from tests.clusters.conftest import tls_material

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def tls_pems():
    ca, _ = tls_material()
    cert, key = tls_material()
    return {"ca": ca, "cert": cert, "key": key}


@pytest.mark.django_db
def test_cluster_url_change_records_old_and_new_url_and_redacts_tls(admin_user, tls_pems):
    with audit.acting(audit.Actor(via="web", user=admin_user)):
        cluster = registration.cluster_add(name="lab", url="tcp://127.0.0.1:2376", tls=tls_pems)
        registration.cluster_update(
            cluster=cluster, name="lab", url="tcp://127.0.0.1:2377", environment="production",
            poll_interval=cluster.poll_interval, enabled=True, drain_assist=False, dns_server="",
            ingress_addresses="", notify=[], notify_users=[],
        )  # fmt: skip
    event = AuditEvent.objects.get(action="cluster.update")
    assert (event.actor, event.via) == ("ada", "web")
    assert event.before["url"] == "tcp://127.0.0.1:2376"
    assert event.after["url"] == "tcp://127.0.0.1:2377"
    assert event.after["credentials_encrypted"] == "unchanged"
    for row in AuditEvent.objects.all():
        text = json.dumps([row.before, row.after])
        assert "BEGIN" not in text and "PRIVATE" not in text


@pytest.mark.django_db
def test_token_creation_is_recorded_without_the_secret(admin_user):
    with audit.acting(audit.Actor(via="cli", name="root", command="token")):
        token, secret = account_services.token_create(user=admin_user, scope="read", now=NOW)
    event = AuditEvent.objects.get(action="token.create")
    assert (event.via, event.command, event.object) == ("cli", "token", token.prefix)
    assert secret not in json.dumps([event.before, event.after, event.object])


@pytest.mark.django_db
def test_waiver_and_window_edit_are_recorded(operator):
    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    with audit.acting(audit.Actor(via="api", user=operator, token_prefix="wk_x")):
        readiness_services.waiver_create(
            cluster=cluster, rule=_a_rule(), reason="known", owner=operator,
            expires_at=NOW + timedelta(days=3), created_by=operator, now=NOW,
        )  # fmt: skip
        with time_machine.travel(NOW, tick=False):
            window = windows.window_create(
                cluster=cluster, weekdays="mon", start_time=time(2), duration_minutes=60,
                tz="UTC", now=NOW,
            )  # fmt: skip
            windows.window_update(window=window, now=NOW, duration_minutes=90)
    waiver = AuditEvent.objects.get(action="waiver.create")
    assert (waiver.actor, waiver.via, waiver.token_prefix) == ("otto", "api", "wk_x")
    edit = AuditEvent.objects.get(action="window.update")
    assert (edit.before["duration_minutes"], edit.after["duration_minutes"]) == (60, 90)


def _a_rule():
    return sorted(catalogue.rule_ids())[0]


@pytest.mark.django_db
def test_a_management_command_is_recorded_via_cli_with_its_name(admin_user):
    call_command("token", "create", "ada", "--scope", "read", stdout=io.StringIO())
    event = AuditEvent.objects.get(action="token.create")
    assert (event.via, event.command, event.user) == ("cli", "token", None)
