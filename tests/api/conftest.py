import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.roles import ADMIN, OPERATOR, VIEWER
from clusters import registration
from dashboard import pipeline
from maintenance.services import backups, checklists, windows
from tests.clusters.conftest import fetcher, load_raw, recorded_now, tls_material
from tests.conftest import make_user


@pytest.fixture
def tls_pems():
    ca, _ = tls_material()
    cert, key = tls_material()
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture
def polled(db, tls_pems):
    """A TLS cluster polled once from the recorded lab JSON (so it has a report), with a
    window, a backup and a checklist run."""
    from datetime import time, timedelta

    cluster = registration.cluster_add(
        name="lab", url="tcp://127.0.0.1:2376", tls=tls_pems, notify=["ops@example.org"]
    )
    raw = load_raw("lab_poll1")
    pipeline.cluster_poll(cluster=cluster, now=recorded_now(raw), fetch=fetcher(raw))
    now = timezone.now()
    windows.window_create(
        cluster=cluster, weekdays="sun", start_time=time(2, 30), duration_minutes=60,
        tz="Europe/Berlin", name="weekly", now=now,
    )  # fmt: skip
    backups.backup_create(cluster=cluster, name="orders", interval_days=60, now=now)
    checklists.checklist_start(
        cluster=cluster, template="switchover", tz="UTC", now=now,
        target=(now + timedelta(days=3)).replace(tzinfo=None),
    )  # fmt: skip
    cluster.refresh_from_db()
    return cluster


@pytest.fixture
def people(db, django_user_model):
    return {
        role: make_user(django_user_model, f"u-{role}", role) for role in (VIEWER, OPERATOR, ADMIN)
    }


def token_for(user, scope: str, days: int = 30) -> str:
    return account_services.token_create(user=user, scope=scope, days=days, now=timezone.now())[1]


@pytest.fixture
def world(polled, people):
    """`polled` with what the write routes act on: a waiver, a future and a started
    occurrence, a node id, a poll id (asked for now)."""
    from datetime import timedelta

    from clusters import selectors as cluster_selectors
    from dashboard import polls
    from maintenance.models import Occurrence
    from readiness import services as readiness_services

    now = timezone.now()
    window = polled.maintenance_windows.get()
    started = Occurrence.objects.create(
        window=window, local_date=(now - timedelta(days=400)).date(),
        start=now - timedelta(minutes=30), end=now + timedelta(minutes=30),
        local_start=(now - timedelta(minutes=30)).isoformat(),
    )  # fmt: skip
    return {
        "cluster": polled,
        "window": window,
        "occurrence": window.occurrences.filter(start__gt=now).first(),
        "started": started,
        "node": cluster_selectors.current_nodes(cluster=polled).first().swarm_id,
        "backup": polled.backups.get(),
        "run": polled.checklist_runs.get(),
        "waiver": readiness_services.waiver_create(
            cluster=polled,
            rule="images.tag-pinned",
            reason="vendor image",
            owner=people[OPERATOR],
            expires_at=now + timedelta(days=3),
            created_by=people[OPERATOR],
            now=now,
        ),  # fmt: skip
        "poll": polls.request_id(now),
    }
