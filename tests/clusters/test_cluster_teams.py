"""Clusters and teams on the settings pages: who may add a cluster to which team, the team
selector, recipients limited to people who see the cluster, notifications after a user leaves."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import teams
from audit.models import AuditEvent
from clusters import registration
from clusters.models import Cluster, Recipient
from maintenance.models import Reminder
from maintenance.services import reminders
from tests.clusters.test_settings_pages import NEW, form, settings_url
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def blue_red(django_user_model):
    blue, red = teams.team_create(name="blue"), teams.team_create(name="red")
    boss = make_user(django_user_model, "bea", None)
    teams.membership_set(team=blue, user=boss, role="admin")
    teams.membership_set(team=red, user=boss, role="operator")
    return blue, red, boss


def test_a_team_admin_adds_a_cluster_to_their_team_only(client, blue_red):
    blue, red, boss = blue_red
    client.force_login(boss)
    page = client.get(NEW).text
    assert ">blue</option>" in page and ">red</option>" not in page
    response = client.post(NEW, form(name="redder", team=str(red.pk)))
    assert response.status_code == 400 and not Cluster.objects.filter(name="redder").exists()
    response = client.post(NEW, form(name="bluer", team=str(blue.pk)))
    assert response.status_code == 302
    assert Cluster.objects.get(name="bluer").team == blue
    response = client.post(NEW, form(name="implicit"))  # one team offered: that one
    assert response.status_code == 302 and Cluster.objects.get(name="implicit").team == blue


def test_an_operator_of_every_team_cannot_add_a_cluster(client, blue_red, django_user_model):
    blue, red, _ = blue_red
    otto = make_user(django_user_model, "otto2", None)
    teams.membership_set(team=red, user=otto, role="operator")
    client.force_login(otto)
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form(team=str(red.pk))).status_code == 403
    assert not Cluster.objects.exists()


def test_the_settings_page_moves_a_cluster_between_teams_the_admin_administers(
    client, blue_red, admin_user
):
    blue, red, boss = blue_red
    cluster = registration.cluster_add(name="prod", url="unix:///run/prod.sock", team=blue)
    client.force_login(boss)
    response = client.post(settings_url("prod"), form(team=str(red.pk)))
    assert response.status_code == 400  # bea is only an operator in red
    cluster.refresh_from_db()
    assert cluster.team == blue
    client.force_login(admin_user)  # a global admin chooses any team
    assert client.post(settings_url("prod"), form(team=str(red.pk))).status_code == 302
    cluster.refresh_from_db()
    assert cluster.team == red
    event = AuditEvent.objects.filter(action="cluster.update").latest("id")
    assert (event.before["team"], event.after["team"]) == ("blue", "red")
    client.force_login(boss)  # no longer admin of the cluster's team: 403 (bea sees red)
    assert client.get(settings_url("prod")).status_code == 403


def test_recipients_must_see_the_cluster(client, blue_red, django_user_model):
    blue, red, boss = blue_red
    registration.cluster_add(name="prod", url="unix:///run/prod.sock", team=blue)
    outsider = make_user(django_user_model, "olga", None)
    teams.membership_set(team=red, user=outsider, role="viewer")
    outsider.email = "olga@example.com"
    outsider.save()
    client.force_login(boss)
    assert "olga@example.com" not in client.get(settings_url("prod")).text
    response = client.post(settings_url("prod"), form(recipient_users=[outsider.pk]))
    assert response.status_code == 400
    assert not Recipient.objects.filter(user=outsider).exists()


def test_a_user_who_leaves_the_team_is_no_longer_notified(blue_red, django_user_model):
    blue, _, _ = blue_red
    cluster = registration.cluster_add(name="prod", url="unix:///run/prod.sock", team=blue)
    member = make_user(django_user_model, "mia", None)
    member.email = "mia@example.com"
    member.save()
    teams.membership_set(team=blue, user=member, role="viewer")
    Recipient.objects.create(cluster=cluster, user=member)
    Recipient.objects.create(cluster=cluster, email="ops@example.com")
    assert reminders.recipients_of(cluster) == ["mia@example.com", "ops@example.com"]
    teams.membership_set(team=blue, user=member, role=None)
    assert reminders.recipients_of(cluster) == ["ops@example.com"]
    now = timezone.now()
    created = reminders.reminder_enqueue(
        cluster=cluster, kind="critical_finding", subject_key="f:1", title="t", body="b",
        due_at=now, now=now,
    )  # fmt: skip
    assert created == 1
    assert list(Reminder.objects.values_list("recipient", flat=True)) == ["ops@example.com"]


def test_team_roles_show_on_the_fleet_controls(client, blue_red):
    blue, red, boss = blue_red
    registration.cluster_add(name="bluebird", url="unix:///a.sock", team=blue)
    registration.cluster_add(name="redwood", url="unix:///b.sock", team=red)
    client.force_login(boss)
    blue_page = client.get(reverse("clusters:detail", args=["bluebird"])).text
    red_page = client.get(reverse("clusters:detail", args=["redwood"])).text
    assert 'id="cluster-settings"' in blue_page  # admin in blue
    assert 'id="cluster-settings"' not in red_page  # operator in red


def test_a_waiver_owner_who_left_the_team_is_not_told_of_its_expiry(blue_red, django_user_model):
    from datetime import timedelta

    from dashboard import pipeline
    from readiness import services as readiness

    blue, _, _ = blue_red
    cluster = registration.cluster_add(name="prod", url="unix:///run/prod.sock", team=blue)
    owners = []
    for name in ("stays", "leaves"):
        owner = make_user(django_user_model, name, None)
        owner.email = f"{name}@example.com"
        owner.save()
        teams.membership_set(team=blue, user=owner, role="operator")
        owners.append(owner)
    now = timezone.now()
    for owner in owners:
        readiness.waiver_create(
            cluster=cluster, rule="images.tag-pinned", selector=owner.username, reason="r",
            owner=owner, expires_at=now + timedelta(days=1), created_by=owner, now=now,
        )  # fmt: skip
    teams.membership_set(team=blue, user=owners[1], role=None)
    assert pipeline.waivers_expire(now=now + timedelta(days=2)) == 2
    sent_to = set(Reminder.objects.values_list("recipient", flat=True))
    assert sent_to == {"stays@example.com"}
