"""Sign-in writes: users matched by (issuer, sub), never by email; roles from groups each time."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import forget_roles, role_of
from accounts.sso import services
from accounts.sso.models import Identity
from watchkeeper.sso import from_environ, parse_group_roles

ISSUER = "https://login.example.com"
RULES = parse_group_roles("ops-admins=admin,ops=operator,staff=viewer")
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def sign_in(**claims):
    user = services.sign_in(
        issuer=ISSUER, claims=claims, groups_claim="groups", rules=RULES, now=NOW
    )
    forget_roles(user)
    return user


@pytest.fixture(autouse=True)
def _roles(roles_exist):
    return roles_exist


def test_it_creates_a_user_without_a_password_on_first_sign_in(db):
    user = sign_in(sub="abc", preferred_username="alice", email="a@x.test", groups=["ops"])
    assert user.username == "alice"
    assert not user.has_usable_password()
    assert role_of(user) == "operator"
    identity = Identity.objects.get(user=user)
    assert (identity.issuer, identity.subject, identity.groups) == (ISSUER, "abc", ["ops"])
    assert identity.last_sign_in == NOW


def test_the_same_sub_is_the_same_user_even_when_the_email_changes(db):
    first = sign_in(sub="abc", preferred_username="alice", email="a@x.test", groups=["ops"])
    again = sign_in(sub="abc", preferred_username="alice", email="new@x.test", groups=["staff"])
    assert again.pk == first.pk
    assert again.email == "new@x.test"
    assert role_of(again) == "viewer"
    assert role_of(sign_in(sub="abc", groups=[])) is None


def test_an_email_never_attaches_a_provider_account_to_a_local_one(db, admin_user):
    admin_user.email = "ada@x.test"
    admin_user.save()
    user = sign_in(sub="evil", preferred_username="ada", email="ada@x.test", groups=[])
    assert user.pk != admin_user.pk
    assert user.username == "ada-sso"
    assert role_of(user) is None
    admin_user.refresh_from_db()
    assert admin_user.is_superuser


def test_the_same_sub_at_another_issuer_is_another_user(db):
    first = sign_in(sub="abc", preferred_username="alice")
    other = services.sign_in(
        issuer="https://other.example.com",
        claims={"sub": "abc", "preferred_username": "alice"},
        groups_claim="groups",
        rules=RULES,
        now=NOW,
    )
    assert other.pk != first.pk


def test_it_refuses_claims_without_a_sub(db):
    with pytest.raises(services.IdentityRefused):
        sign_in(preferred_username="alice")
    assert not get_user_model().objects.exists()


def test_sso_link_makes_a_local_account_sign_in_by_sub(db, settings, operator, viewer):
    settings.WATCHKEEPER_OIDC = from_environ(
        {
            "WATCHKEEPER_OIDC_ISSUER": ISSUER,
            "WATCHKEEPER_OIDC_CLIENT_ID": "wk",
            "WATCHKEEPER_OIDC_CLIENT_SECRET": "s",
        }
    )
    call_command("sso_link", operator.username, "sub-otto")
    user = sign_in(sub="sub-otto", preferred_username="someone-else", groups=["ops-admins"])
    assert user.pk == operator.pk
    assert user.username == "otto"
    assert role_of(user) == "admin"
    with pytest.raises(CommandError, match="already linked"):
        call_command("sso_link", viewer.username, "sub-otto")
    with pytest.raises(CommandError, match="No user named"):
        call_command("sso_link", "ghost", "sub-ghost")
