"""The teams page: global admins create teams and set memberships; a team's admin cannot."""

import pytest
from django.urls import reverse

from accounts import teams
from accounts.models import Membership, Team
from audit.models import AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_global_admin_creates_a_team_and_sets_and_removes_a_member(client, admin_user, viewer):
    client.force_login(admin_user)
    assert client.post(reverse("accounts:team_create"), {"name": "blue"}).status_code == 302
    blue = Team.objects.get(name="blue")
    url = reverse("accounts:team_member", args=[blue.pk])
    client.post(url, {"username": viewer.username, "role": "operator"})
    assert Membership.objects.get(team=blue, user=viewer).role == "operator"
    page = client.get(reverse("accounts:teams")).text
    assert "blue" in page and viewer.username in page
    client.post(url, {"username": viewer.username, "role": ""})
    assert not Membership.objects.filter(team=blue, user=viewer).exists()
    assert AuditEvent.objects.filter(action="team.member", via="web").count() == 2
    users = client.get(reverse("accounts:users")).text
    assert "default: viewer" in users  # the users page lists each user's teams


def test_bad_input_changes_nothing(client, admin_user, viewer):
    client.force_login(admin_user)
    client.post(reverse("accounts:team_create"), {"name": "bad name"})
    client.post(reverse("accounts:team_create"), {"name": "DEFAULT"})  # taken, any case
    assert list(Team.objects.values_list("name", flat=True)) == ["default"]
    default = Team.objects.get()
    url = reverse("accounts:team_member", args=[default.pk])
    client.post(url, {"username": "nobody", "role": "viewer"})
    client.post(url, {"username": viewer.username, "role": "superuser"})
    assert Membership.objects.get(user=viewer).role == "viewer"


def test_a_team_admin_is_not_a_global_admin(client, django_user_model):
    boss = make_user(django_user_model, "bea", None)
    blue = teams.team_create(name="blue")
    teams.membership_set(team=blue, user=boss, role="admin")
    client.force_login(boss)
    assert client.get(reverse("accounts:teams")).status_code == 403
    assert client.get(reverse("accounts:users")).status_code == 403
    url = reverse("accounts:team_member", args=[blue.pk])
    assert client.post(url, {"username": "bea", "role": "viewer"}).status_code == 403
    assert Membership.objects.get(user=boss).role == "admin"
    assert client.post(reverse("accounts:team_create"), {"name": "red"}).status_code == 403
