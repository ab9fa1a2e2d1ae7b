"""SSO configuration: the group mapping syntax and every bad configuration refused at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from watchkeeper.sso import (
    GroupRule,
    authentication_backends,
    from_environ,
    groups_from_claims,
    local_login_from_environ,
    parse_group_roles,
    role_for_groups,
)

REPO = Path(__file__).resolve().parents[2]
BASE = {
    "WATCHKEEPER_OIDC_ISSUER": "https://login.example.com/realms/ops/",
    "WATCHKEEPER_OIDC_CLIENT_ID": "watchkeeper",
    "WATCHKEEPER_OIDC_CLIENT_SECRET": "s3cret",
}


def test_the_mapping_knows_the_same_roles_as_accounts():
    from accounts.roles import ROLES
    from watchkeeper.sso import ROLE_NAMES

    assert ROLE_NAMES == ROLES


def test_it_parses_roles_and_optional_teams():
    rules = parse_group_roles(
        "ops-admins=admin, ops=operator\nstaff = viewer,,a=b=viewer", allow_teams=False
    )
    assert rules == (
        GroupRule("ops-admins", "admin"),  # a bare admin: the global admin role
        GroupRule("ops", "operator", team="default"),  # bare viewer/operator: default team
        GroupRule("staff", "viewer", team="default"),
        GroupRule("a=b", "viewer", team="default"),
    )
    assert parse_group_roles("root=global:admin") == (GroupRule("root", "admin"),)
    assert parse_group_roles("blue-ops=blue:operator", allow_teams=True) == (
        GroupRule("blue-ops", "operator", team="blue"),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ops", "is not GROUP=ROLE"),
        ("=admin", "is not GROUP=ROLE"),
        ("ops=", "is not GROUP=ROLE"),
        ("ops=superuser", "unknown role 'superuser'"),
        ("ops=:admin", "empty team"),
        ("ops=global:viewer", "only admin is a global role"),
        ("ops=viewer,ops=operator", "mapped twice"),
    ],
)
def test_it_refuses_a_bad_mapping_with_a_clear_message(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_group_roles(raw)
    with pytest.raises(ImproperlyConfigured, match="global roles only"):
        parse_group_roles("ops=blue:admin", allow_teams=False)


def test_the_highest_mapped_role_wins_and_unmapped_groups_give_none():
    rules = parse_group_roles("ops-admins=admin,ops=operator,staff=viewer")
    assert role_for_groups(["staff", "ops"], rules) == "operator"
    assert role_for_groups(["ops-admins", "staff"], rules) == "admin"
    assert role_for_groups(["other"], rules) is None
    assert role_for_groups([], rules) is None


def test_the_groups_claim_is_read_as_a_list():
    assert groups_from_claims({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert groups_from_claims({"roles": "a"}, "roles") == ["a"]
    assert groups_from_claims({}, "groups") == []
    assert groups_from_claims({"groups": {"a": 1}}, "groups") == []


def test_it_reads_the_environment_with_defaults(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    environ = {**BASE, "WATCHKEEPER_OIDC_CLIENT_SECRET_FILE": str(secret)}
    del environ["WATCHKEEPER_OIDC_CLIENT_SECRET"]
    config = from_environ(environ)
    assert config.issuer == "https://login.example.com/realms/ops"
    assert config.client_secret == "from-a-file"
    assert config.scopes == "openid email profile"
    assert config.groups_claim == "groups"
    assert config.rules == ()
    assert config.provider_name == "login.example.com"
    assert from_environ({}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WATCHKEEPER_OIDC_CLIENT_ID": ""}, "WATCHKEEPER_OIDC_CLIENT_ID is not"),
        ({"WATCHKEEPER_OIDC_CLIENT_SECRET": ""}, "no client secret"),
        ({"WATCHKEEPER_OIDC_ISSUER": "login.example.com"}, "not an http"),
        ({"WATCHKEEPER_OIDC_ISSUER": "http://login.example.com"}, "must use https"),
        ({"WATCHKEEPER_OIDC_SCOPES": "email profile"}, "must include openid"),
        ({"WATCHKEEPER_OIDC_GROUP_ROLES": "ops=root"}, "unknown role"),
    ],
)
def test_it_refuses_a_bad_configuration(change, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        from_environ({**BASE, **change})


def test_a_client_id_without_an_issuer_is_refused():
    with pytest.raises(ImproperlyConfigured, match="WATCHKEEPER_OIDC_ISSUER is not"):
        from_environ({"WATCHKEEPER_OIDC_CLIENT_ID": "watchkeeper"})


def test_local_login_can_be_turned_off_only_with_sso():
    config = from_environ(BASE)
    assert local_login_from_environ(config, {}) is True
    assert local_login_from_environ(config, {"WATCHKEEPER_LOCAL_LOGIN": "false"}) is False
    with pytest.raises(ImproperlyConfigured, match="nobody could sign in"):
        local_login_from_environ(None, {"WATCHKEEPER_LOCAL_LOGIN": "false"})
    assert authentication_backends(local_login=False, sso=True) == [
        "accounts.sso.backend.WatchkeeperOIDCBackend"
    ]
    assert authentication_backends(local_login=True, sso=False) == [
        "django.contrib.auth.backends.ModelBackend"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WATCHKEEPER_OIDC_GROUP_ROLES": "ops=chief"}, "unknown role 'chief'"),
        ({"WATCHKEEPER_OIDC_CLIENT_ID": ""}, "WATCHKEEPER_OIDC_CLIENT_ID is not"),
    ],
)
def test_a_bad_configuration_stops_the_start(change, message):
    environ = {**os.environ, **BASE, **change}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
