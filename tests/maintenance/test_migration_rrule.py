"""Migration 0003: existing weekly windows become the equivalent FREQ=WEEKLY;BYDAY rule."""

from datetime import date, time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clusters.models import Cluster  # its table stays at the latest migration

BEFORE = [("maintenance", "0002_backup_kind")]
AFTER = [("maintenance", "0003_window_rrule_freezes_evidence")]


@pytest.mark.django_db(transaction=True)
def test_it_migrates_weekly_windows_to_an_equivalent_rrule():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    cluster = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    old.get_model("maintenance", "Window").objects.create(
        cluster_id=cluster.pk, name="nightly", weekdays="sun,wed", start_time=time(2, 30),
        duration_minutes=60, tz="Europe/Berlin", active_from=date(2027, 1, 1),
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    window = new.get_model("maintenance", "Window").objects.get(name="nightly")
    assert window.rrule == "FREQ=WEEKLY;BYDAY=WE,SU"
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps
    assert back.get_model("maintenance", "Window").objects.get(name="nightly").weekdays == "wed,sun"
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
