"""Role permissions on sample views: anonymous, no role, viewer, operator, admin."""

import pytest
from django.urls import reverse

from accounts.roles import has_role, role_of

pytestmark = pytest.mark.django_db


def test_it_creates_the_three_role_groups(roles_exist):
    assert set(roles_exist) >= {"viewer", "operator", "admin"}


def test_it_redirects_anonymous_visitors_to_login(client):
    response = client.get(reverse("clusters:fleet"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_it_sends_anonymous_posts_to_login_and_changes_nothing(client, django_user_model):
    response = client.post(reverse("accounts:user_create"), {"username": "x", "role": "admin"})
    assert response.status_code == 302
    assert not django_user_model.objects.filter(username="x").exists()


def test_it_refuses_a_user_without_a_role(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("clusters:fleet")).status_code == 403


def test_a_viewer_reads_the_fleet_but_not_user_admin(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("clusters:fleet")).status_code == 200
    assert client.get(reverse("accounts:users")).status_code == 403
    response = client.post(reverse("accounts:user_create"), {"username": "x", "role": "admin"})
    assert response.status_code == 403


def test_an_operator_cannot_manage_users(client, operator):
    client.force_login(operator)
    assert client.get(reverse("maintenance:overview")).status_code == 200
    assert client.get(reverse("accounts:users")).status_code == 403


def test_an_admin_manages_users_and_roles(client, admin_user, viewer, django_user_model):
    client.force_login(admin_user)
    assert client.get(reverse("accounts:users")).status_code == 200
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "newop", "role": "operator", "email": "o@example.org"},
    )
    assert response.status_code == 302
    assert role_of(django_user_model.objects.get(username="newop")) == "operator"
    client.post(reverse("accounts:user_role", args=[viewer.pk]), {"role": "admin"})
    viewer.refresh_from_db()
    assert has_role(viewer, "admin") and viewer.is_staff


def test_an_admin_cannot_demote_themselves(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("accounts:user_role", args=[admin_user.pk]), {"role": "viewer"})
    admin_user.refresh_from_db()
    assert admin_user.is_superuser


def test_roles_are_ordered(viewer, operator, admin_user):
    assert has_role(viewer, "viewer") and not has_role(viewer, "operator")
    assert has_role(operator, "viewer") and has_role(operator, "operator")
    assert not has_role(operator, "admin")
    assert all(has_role(admin_user, role) for role in ("viewer", "operator", "admin"))


def test_only_admins_see_the_admin_navigation(client, viewer, admin_user):
    client.force_login(viewer)
    assert reverse("accounts:users") not in client.get(reverse("clusters:fleet")).text
    client.force_login(admin_user)
    assert reverse("accounts:users") in client.get(reverse("clusters:fleet")).text
