"""Single sign-on and teams: the groups claim sets the team roles (and the global admin role)
at every sign-in; roles in teams the claim no longer maps are removed."""

import datetime as dt

import pytest

from accounts import teams
from accounts.models import Membership
from accounts.roles import forget_roles, is_global_admin, team_roles
from accounts.sso import services
from watchkeeper.sso import parse_group_roles

ISSUER = "https://login.example.com"
RULES = parse_group_roles(
    "blue-ops=blue:operator, blue-all=blue:viewer, red-admins=red:admin, root=global:admin,"
    "staff=viewer, ghosts=nowhere:viewer"
)
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def sign_in(*groups):
    user = services.sign_in(
        issuer=ISSUER, claims={"sub": "s1", "preferred_username": "sam", "groups": list(groups)},
        groups_claim="groups", rules=RULES, now=NOW,
    )  # fmt: skip
    forget_roles(user)
    return user


@pytest.fixture
def blue_red(db):
    return teams.team_create(name="blue"), teams.team_create(name="red")


def _named(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("team__name", "role"))


def test_groups_give_the_highest_mapped_role_in_each_team(blue_red):
    user = sign_in("blue-all", "blue-ops", "red-admins")
    assert _named(user) == {"blue": "operator", "red": "admin"}
    assert not is_global_admin(user)


def test_a_team_left_out_of_the_claim_is_removed_at_the_next_sign_in(blue_red):
    sign_in("blue-ops", "red-admins")
    user = sign_in("blue-all")
    assert _named(user) == {"blue": "viewer"}
    assert team_roles(sign_in()) == {}


def test_global_admin_comes_and_goes_with_its_group(blue_red):
    assert is_global_admin(sign_in("root"))
    assert not is_global_admin(sign_in("blue-ops"))


def test_a_bare_role_is_that_role_in_the_default_team_and_unknown_teams_are_skipped(
    blue_red, caplog
):
    user = sign_in("staff", "ghosts")
    assert _named(user) == {"default": "viewer"}
    assert "team 'nowhere', which does not exist" in caplog.text


def test_a_role_given_by_hand_in_a_team_the_mapping_covers_is_reset(blue_red):
    blue, red = blue_red
    user = sign_in("blue-all")
    teams.membership_set(team=red, user=user, role="admin")
    assert _named(sign_in("blue-all")) == {"blue": "viewer"}
