"""Against the Swarm lab, through the real poller: a window in which a worker is restarted.

The clusters app polls the lab before and after the restart (cluster_poll records the node's
transitions); maintenance reads them through clusters.selectors.node_reboots and
latest_snapshot, as in production.
"""

from datetime import UTC, datetime, timedelta

import pytest

from clusters import registration
from clusters.models import Recipient
from dashboard import pipeline
from maintenance.models import Reminder
from maintenance.services import tick as scheduler
from maintenance.services import windows as window_services


def poll(cluster):
    outcome = pipeline.cluster_poll(cluster=cluster)
    assert outcome is not None and outcome.run.ok, outcome and outcome.run.error
    return outcome


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.django_db
def test_a_worker_restarted_in_a_window_is_verified_the_other_nodes_are_not(swarm_lab, locmem):
    cluster = registration.cluster_add(name="lab", url=swarm_lab.docker_host)
    Recipient.objects.create(cluster=cluster, email="ops@example.org")
    opened = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    window = window_services.window_create(
        cluster=cluster, weekdays=opened.strftime("%a").lower(), start_time=opened.time(),
        duration_minutes=30, tz="UTC", now=opened, name="lab window",
    )  # fmt: skip
    occurrence = window.occurrences.get(local_date=opened.date())
    poll(cluster)
    scheduler.tick(now=datetime.now(UTC))
    occurrence.refresh_from_db()
    assert occurrence.status == "in_progress"
    assert set(occurrence.expected_nodes.values()) == set(swarm_lab.hostnames)
    assert not occurrence.verifications.exists()

    swarm_lab.restart_node("wk-worker-1")
    poll(cluster)

    scheduler.tick(now=datetime.now(UTC))
    occurrence.refresh_from_db()
    (verification,) = occurrence.verifications.all()
    assert (verification.hostname, verification.source) == ("wk-worker-1", "observed")
    assert occurrence.start <= verification.verified_at < occurrence.end

    scheduler.tick(now=occurrence.end + timedelta(minutes=30))
    occurrence.refresh_from_db()
    assert occurrence.status == "partial"
    reminder = Reminder.objects.get(kind="window_not_verified")
    assert reminder.status == "sent"
    (message,) = [m for m in locmem if "not verified" in m.subject]
    assert "wk-manager-1" in message.body and "wk-worker-2" in message.body
    assert "wk-worker-1" not in message.body
    # The restart happened inside the window: no "node down" alert went out for it.
    assert not Reminder.objects.filter(kind="node_down").exists()
