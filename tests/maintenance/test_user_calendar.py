"""The per-user iCalendar feed: every cluster the user may see, behind a secret per-user URL
that the profile page rotates; the same events as the per-cluster feeds (cancelled occurrences
and freezes included as those show them), parsed with icalendar."""

from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
import time_machine
from django.urls import reverse

from accounts import services as account_services
from clusters.models import Cluster
from maintenance.services import freezes as freeze_services
from maintenance.services import occurrences as occurrence_services
from maintenance.services import windows as window_services

NOW = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fleet(db):
    prod = Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")
    staging = Cluster.objects.create(name="staging", url="unix:///nonexistent2.sock")
    for cluster, day, zone in (
        (prod, "sun", "Europe/Berlin"),
        (staging, "wed", "America/Santiago"),
    ):
        window_services.window_create(
            cluster=cluster, weekdays=day, start_time=time(3, 0), duration_minutes=90,
            tz=zone, now=NOW, name=f"{cluster.name}-weekly",
        )  # fmt: skip
    cancelled = prod.maintenance_windows.get().occurrences.order_by("start").first()
    occurrence_services.occurrence_cancel(occurrence=cancelled, now=NOW, reason="release week")
    freeze_services.freeze_add(name="summit", first_day=date(2027, 5, 19), now=NOW)
    return prod, staging


def feed(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def uids(cal) -> set[str]:
    return {str(event["UID"]) for event in cal.walk("VEVENT")}


def user_url(user) -> str:
    token = account_services.profile_ensure(user=user).calendar_token
    return reverse("maintenance:user_calendar", args=[token])


@pytest.mark.django_db
def test_it_has_every_event_of_every_cluster_feed_the_user_may_see(client, fleet, viewer):
    prod, staging = fleet
    mine = feed(client, user_url(viewer))  # no login: the token is the credential
    per_cluster = set()
    for cluster in fleet:
        per_cluster |= uids(
            feed(client, reverse("maintenance:calendar", args=[cluster.calendar_token]))
        )
    assert uids(mine) == per_cluster
    summaries = [str(event["SUMMARY"]) for event in mine.walk("VEVENT")]
    assert any("prod-weekly (prod)" in s for s in summaries)
    assert any("staging-weekly (staging)" in s for s in summaries)
    # the freeze for all clusters is said in each cluster's part
    assert "No maintenance (prod): skipped" in summaries
    assert "No maintenance (staging): skipped" in summaries
    frozen = [e for e in mine.walk("VEVENT") if "No maintenance" in str(e["SUMMARY"])]
    assert {e.decoded("DTSTART") for e in frozen} == {date(2027, 5, 19)}
    assert all("Freeze: summit (all clusters)" in str(e["DESCRIPTION"]) for e in frozen)
    # the cancelled occurrence is in as cancelled (with its reason), as in the cluster's feed
    cancelled = prod.maintenance_windows.get().occurrences.get(status="cancelled")
    event = next(
        e for e in mine.walk("VEVENT") if str(e["UID"]) == f"occurrence-{cancelled.pk}@watchkeeper"
    )
    assert str(event["STATUS"]) == "CANCELLED" and "release week" in str(event["DESCRIPTION"])
    zones = {str(tz["TZID"]) for tz in mine.walk("VTIMEZONE")}
    assert {"Europe/Berlin", "America/Santiago"} <= zones
    santiago = next(e for e in mine.walk("VEVENT") if "staging-weekly" in str(e["SUMMARY"]))
    assert santiago.decoded("DTEND") - santiago.decoded("DTSTART") == timedelta(minutes=90)


@pytest.mark.django_db
def test_a_user_without_a_role_sees_no_cluster_and_an_inactive_one_gets_a_404(
    client, fleet, nobody, viewer
):
    assert uids(feed(client, user_url(nobody))) == set()
    url = user_url(viewer)
    viewer.is_active = False
    viewer.save()
    assert client.get(url).status_code == 404
    assert client.get(reverse("maintenance:user_calendar", args=["x" * 32])).status_code == 404
    assert client.get(reverse("maintenance:user_calendar", args=["short"])).status_code == 404


@pytest.mark.django_db
def test_the_profile_page_shows_and_rotates_the_url_and_the_old_one_404s(client, fleet, viewer):
    client.force_login(viewer)
    page = client.get(reverse("accounts:preferences"))
    old = user_url(viewer)
    assert old in page.content.decode()
    assert client.get(old).status_code == 200
    response = client.post(reverse("accounts:calendar_rotate"))
    assert response.status_code == 302
    new = user_url(viewer)
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert new in client.get(reverse("accounts:preferences")).content.decode()
    client.logout()
    assert client.post(reverse("accounts:calendar_rotate")).status_code == 302  # to the login
    assert user_url(viewer) == new


@pytest.mark.django_db
def test_the_profile_page_saves_the_digest_preferences(client, viewer):
    client.force_login(viewer)
    url = reverse("accounts:digest")
    client.post(url, {"weekday": "2", "time": "07:30"})  # the box unticked: off
    profile = account_services.profile_ensure(user=viewer)
    assert (profile.digest_enabled, profile.digest_weekday) == (False, 2)
    assert profile.digest_time == time(7, 30)
    client.post(url, {"enabled": "1", "weekday": "9", "time": "07:30"})
    profile.refresh_from_db()
    assert profile.digest_enabled is False  # refused: nothing changed
    client.post(url, {"enabled": "1", "weekday": "0", "time": "8"})
    profile.refresh_from_db()
    assert profile.digest_enabled is False
    client.post(url, {"enabled": "1", "weekday": "0", "time": "08:00"})
    profile.refresh_from_db()
    assert (profile.digest_enabled, profile.digest_weekday, profile.digest_time) == (
        True,
        0,
        time(8),
    )


@pytest.mark.django_db
def test_it_shows_only_what_visible_clusters_allows(client, fleet, viewer, monkeypatch):
    """Scoping (per team) happens in clusters.selectors.visible_clusters and the feed follows."""
    prod, _staging = fleet
    monkeypatch.setattr(
        "clusters.selectors.visible_clusters", lambda *, user: Cluster.objects.filter(pk=prod.pk)
    )
    summaries = [str(e["SUMMARY"]) for e in feed(client, user_url(viewer)).walk("VEVENT")]
    assert any("(prod)" in s for s in summaries)
    assert not any("staging" in s for s in summaries)
