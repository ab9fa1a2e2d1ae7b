from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction

from audit import services as audit
from audit.models import AppendOnlyError, AuditEvent

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _event(**kwargs):
    with audit.acting(audit.Actor(via="cli", name="root", command="test")):
        return audit.record(action="test", obj="thing", object_type="thing", **kwargs)


@pytest.mark.django_db
def test_record_uses_the_actor_in_context(admin_user):
    with audit.acting(audit.Actor(via="api", user=admin_user, token_prefix="wk_ab12")):
        event = audit.record(action="cluster.update", obj="prod", object_type="cluster")
    assert (event.actor, event.via, event.token_prefix, event.user) == (
        "ada",
        "api",
        "wk_ab12",
        admin_user,
    )


@pytest.mark.django_db
def test_the_application_refuses_update_and_delete():
    event = _event()
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger is PostgreSQL only")
@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_auditevent SET action = 'forged'", "DELETE FROM audit_auditevent"],
)
def test_postgresql_trigger_refuses_raw_update_and_delete(sql):
    _event()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get().action == "test"


@pytest.mark.django_db(transaction=True)
def test_purge_deletes_only_events_past_retention(settings):
    settings.WATCHKEEPER_AUDIT_RETENTION_DAYS = 400
    with time_machine.travel(NOW - timedelta(days=401), tick=False):
        _event()
    with time_machine.travel(NOW - timedelta(days=399), tick=False):
        kept = _event()
    assert audit.purge(now=NOW) == 1
    assert list(AuditEvent.objects.all()) == [kept]
