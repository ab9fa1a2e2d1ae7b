"""API tokens: `manage.py token create/list/revoke` and the profile page."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken
from accounts.tokens import digest

pytestmark = pytest.mark.django_db


def test_it_prints_the_secret_once_and_stores_only_its_digest(viewer):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "token", "create", "vera", "--scope", "read", "--expires", "7", stdout=out, stderr=err
    )
    secret = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.digest == digest(secret) and secret not in err.getvalue()
    listing = io.StringIO()
    call_command("token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and secret not in listing.getvalue()


def test_it_refuses_a_scope_above_the_users_role_and_stores_nothing(viewer):
    with pytest.raises(CommandError) as error:
        call_command("token", "create", "vera", "--scope", "admin", stdout=io.StringIO())
    assert "viewer" in str(error.value) and error.value.returncode == 2
    assert not ApiToken.objects.exists()


def test_it_refuses_an_expiry_out_of_range(viewer):
    with pytest.raises(CommandError):
        call_command("token", "create", "vera", "--scope", "read", "--expires", "0")
    assert not ApiToken.objects.exists()


def test_it_revokes_by_prefix(viewer):
    out = io.StringIO()
    call_command("token", "create", "vera", "--scope", "read", stdout=out, stderr=io.StringIO())
    prefix = ApiToken.objects.get().prefix
    call_command("token", "revoke", prefix, stdout=io.StringIO())
    assert ApiToken.objects.get().revoked_at is not None


def test_the_profile_page_shows_a_new_secret_once_then_only_its_prefix(client, operator):
    client.force_login(operator)
    response = client.post(
        "/accounts/tokens/new/", {"name": "ci", "scope": "operate", "days": "30"}
    )
    token = ApiToken.objects.get()
    secret = response.context["new_secret"]
    assert token.digest == digest(secret) and secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    again = client.get("/accounts/preferences/").content.decode()
    assert token.prefix in again and secret not in again


def test_a_user_revokes_only_their_own_tokens(client, operator, viewer):
    client.force_login(viewer)
    client.post("/accounts/tokens/new/", {"scope": "read", "days": "30"})
    theirs = ApiToken.objects.get()
    client.force_login(operator)
    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    client.force_login(viewer)
    client.post(f"/accounts/tokens/{theirs.pk}/revoke/")
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None
