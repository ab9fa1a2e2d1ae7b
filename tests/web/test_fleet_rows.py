"""What each fleet row says: next maintenance in both zones, overdue upkeep, poll state."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from accounts.models import Profile
from clusters.models import Cluster
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import windows as window_services
from readiness.models import Evaluation

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # a Sunday


def row_of(page: str, name: str) -> str:
    start = page.index(f'<tr class="fleet-row" data-cluster="{name}">')
    return page[start : page.index("</tr>", start)]


@time_machine.travel(NOW, tick=False)
def test_it_shows_the_next_window_in_the_viewers_zone_and_the_clusters(client, viewer):
    cluster = Cluster.objects.create(name="berlin", url="unix:///b.sock")
    window_services.window_create(
        cluster=cluster,
        weekdays="wed",
        start_time=time(2, 30),
        duration_minutes=60,
        tz="Europe/Berlin",
        name="weekly",
        now=NOW,
    )
    Profile.objects.update_or_create(user=viewer, defaults={"time_zone": "America/New_York"})
    client.force_login(viewer)
    row = row_of(client.get("/").text, "berlin")
    assert 'Tue 24 Nov 20:30 <span class="muted">EST</span>' in row
    assert "Wed 02:30 CET cluster time" in row


@time_machine.travel(NOW, tick=False)
def test_it_counts_overdue_backup_tests_and_checklist_steps(client, viewer):
    cluster = Cluster.objects.create(name="late", url="unix:///l.sock")
    backup_services.backup_create(
        cluster=cluster, name="orders", interval_days=30, now=NOW - timedelta(days=60)
    )
    checklist_services.checklist_start(
        cluster=cluster,
        template="switchover",
        target=(NOW - timedelta(days=1)).replace(tzinfo=None),
        tz="UTC",
        now=NOW - timedelta(days=10),
    )
    Cluster.objects.create(name="calm", url="unix:///c.sock")
    client.force_login(viewer)
    page = client.get("/").text
    late = row_of(page, "late")
    assert "1 backup test<" in late and "checklist steps<" in late
    assert "nothing" in row_of(page, "calm") and "none scheduled" in row_of(page, "calm")


@time_machine.travel(NOW, tick=False)
def test_it_shows_poll_age_staleness_the_error_escaped_and_a_capped_grade(client, viewer):
    polled = NOW - timedelta(hours=30)
    cluster = Cluster.objects.create(
        name="sick",
        url="unix:///s.sock",
        last_poll_at=polled,
        last_poll_ok=False,
        last_poll_error="<b>refused</b> " + "x" * 200,
        last_success_at=NOW - timedelta(days=3),
    )
    Evaluation.objects.create(
        cluster=cluster,
        environment="production",
        snapshot_at=NOW,
        evaluated_at=NOW,
        score=77,
        grade="C",
        grade_capped=True,
        summary={"critical": 2},
    )
    client.force_login(viewer)
    row = row_of(client.get("/").text, "sick")
    assert f'<time datetime="{polled.isoformat()}" title="2026-11-21 03:00:00 UTC">' in row
    assert "1\xa0day, 6\xa0hours ago</time>" in row
    assert "stale: last good poll 3\xa0days ago" in row
    assert "&lt;b&gt;refused&lt;/b&gt;" in row and "<b>" not in row
    assert "&lt;/b&gt; " + "x" * 104 + "…</div>" in row  # 120 characters in all
    assert 'title="Capped at C by a failing critical check">capped<' in row
    assert '<strong class="score">77</strong>' in row and '"sev-critical">2<' in row
    assert 'href="/clusters/sick/"' in row


def test_every_value_a_row_shows_is_escaped():
    from dashboard.pages import FleetRow, NextWindow, row_html

    hostile = "<script>alert(1)</script>\"'"
    window = NextWindow(
        name=hostile,
        start=NOW,
        end=NOW,
        time_zone=hostile,
        viewer_time=hostile,
        viewer_zone=hostile,
        cluster_time=hostile,
    )
    texts = (
        "name",
        "environment",
        "url",
        "grade",
        "grade_title",
        "score_text",
        "critical_text",
        "poll_iso",
        "poll_title",
        "poll_age",
        "good_age",
        "last_error",
        "error_short",
    )
    row = FleetRow(
        cluster=None,
        grade_capped=True,
        stale=True,
        next_window=window,
        **dict.fromkeys(texts, hostile),
    )
    html = row_html(row)
    assert "<script" not in html and "</script>\"'" not in html
    # name, grade and its title twice each; the window's three strings
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;") == len(texts) + 6
