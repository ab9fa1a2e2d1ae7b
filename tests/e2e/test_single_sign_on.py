"""Single sign-on through the browser against a real OpenID provider (tests/oidc_provider)."""

import logging

import pytest
from django.contrib.auth import get_user_model

from accounts.roles import role_of
from accounts.sso.models import Identity
from clusters.models import Cluster
from tests.oidc_provider import fixtures as provider_fixtures

from .conftest import screenshot

oidc_provider = provider_fixtures.oidc_provider
sso_settings = provider_fixtures.sso_settings


def sign_in_with_provider(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.click("a.sso-sign-in")
    page.wait_for_url(lambda url: "/login/" in url and "/accounts/" not in url)
    page.fill("#op-username", username)
    page.fill("#op-password", "op-" + username)
    page.click("#op-submit")
    page.wait_for_url(lambda url: "/accounts/sso/" not in url and "127.0.0.1" not in url)


def user_named(username):
    user = get_user_model().objects.get(username=username)
    user.__dict__.pop("_watchkeeper_role", None)
    return user


def test_it_signs_in_through_the_provider_and_lands_on_the_fleet_as_admin(page, sso_settings):
    Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    page.goto("/")
    assert page.locator("a.sso-sign-in").inner_text() == "Sign in with Test IdP"
    screenshot(page, "login-sso")
    sign_in_with_provider(page, "alice")
    assert page.locator("tr.fleet-row[data-cluster=lab]").is_visible()
    alice = user_named("alice")
    assert role_of(alice) == "admin"
    identity = Identity.objects.get(user=alice)
    assert identity.subject == "sub-alice"
    assert identity.issuer == sso_settings.WATCHKEEPER_OIDC.issuer
    assert alice.email == "alice@example.test"
    assert not alice.has_usable_password()


@pytest.mark.parametrize(
    ("username", "role"),
    [("alice", "admin"), ("oscar", "operator"), ("victor", "viewer"), ("nora", None)],
)
def test_groups_map_to_the_highest_role(page, sso_settings, username, role):
    sign_in_with_provider(page, username)
    assert role_of(user_named(username)) == role
    if role is None:
        assert page.context.request.get("/").status == 403


def test_roles_are_refreshed_at_the_next_sign_in(
    page, browser, live_server, sso_settings, oidc_provider
):
    sign_in_with_provider(page, "oscar")
    assert role_of(user_named("oscar")) == "operator"
    oidc_provider.set_groups("oscar", ["staff"])
    page.context.clear_cookies()
    sign_in_with_provider(page, "oscar")
    assert role_of(user_named("oscar")) == "viewer"
    oidc_provider.set_groups("oscar", ["nothing-mapped"])
    page.context.clear_cookies()
    sign_in_with_provider(page, "oscar")
    assert role_of(user_named("oscar")) is None
    assert get_user_model().objects.filter(username__startswith="oscar").count() == 1


def test_a_deactivated_user_is_refused(page, sso_settings):
    sign_in_with_provider(page, "alice")
    get_user_model().objects.filter(username="alice").update(is_active=False)
    page.context.clear_cookies()
    sign_in_with_provider(page, "alice")
    assert "/accounts/login/" in page.url
    assert "Sign-in with Test IdP failed" in page.locator("[role=status]").inner_text()


def refused(page, caplog, expected: str) -> None:
    assert "/accounts/login/" in page.url
    assert "Sign-in with Test IdP failed" in page.locator("[role=status]").inner_text()
    assert not get_user_model().objects.filter(username="alice").exists()
    assert any(expected in record.getMessage() for record in caplog.records), [
        record.getMessage() for record in caplog.records
    ]


def test_an_id_token_for_another_audience_is_refused(page, sso_settings, oidc_provider, caplog):
    caplog.set_level(logging.WARNING, logger="accounts.sso.views")
    oidc_provider.set(id_token_audience="some-other-client")
    sign_in_with_provider(page, "alice")
    refused(page, caplog, "Audience doesn't match")


def test_an_id_token_with_a_wrong_signature_is_refused(page, sso_settings, oidc_provider, caplog):
    caplog.set_level(logging.WARNING, logger="accounts.sso.views")
    oidc_provider.set(jwks_lie=True)
    sign_in_with_provider(page, "alice")
    refused(page, caplog, "Signature verification failed")


def test_local_login_off_hides_the_password_form(page, sso_settings):
    from watchkeeper import sso as config

    sso_settings.WATCHKEEPER_LOCAL_LOGIN = False
    sso_settings.AUTHENTICATION_BACKENDS = config.authentication_backends(
        local_login=False, sso=True
    )
    page.goto("/accounts/login/")
    assert page.locator("a.sso-sign-in").is_visible()
    assert page.locator("input[name=password]").count() == 0
    assert page.locator("text=Forgot your password?").count() == 0
    assert page.context.request.get("/accounts/reset/").status == 404


def test_discovery_refuses_a_document_for_another_issuer(oidc_provider):
    from accounts.sso import discovery

    discovery.forget()
    assert discovery.document(oidc_provider.issuer)["issuer"] == oidc_provider.issuer
    elsewhere = oidc_provider.issuer.replace("127.0.0.1", "localhost")
    with pytest.raises(discovery.DiscoveryError, match="names issuer"):
        discovery.document(elsewhere)
    discovery.forget()


def test_a_failed_discovery_returns_to_the_login_page(page, sso_settings, oidc_provider):
    from watchkeeper import sso as config

    sso_settings.WATCHKEEPER_OIDC = config.from_environ(
        {
            "WATCHKEEPER_OIDC_ISSUER": oidc_provider.issuer.replace("127.0.0.1", "localhost"),
            "WATCHKEEPER_OIDC_CLIENT_ID": "watchkeeper",
            "WATCHKEEPER_OIDC_CLIENT_SECRET": "x",
            "WATCHKEEPER_OIDC_PROVIDER_NAME": "Test IdP",
        }
    )
    page.goto("/accounts/login/")
    page.click("a.sso-sign-in")
    assert "/accounts/login/" in page.url
    assert "Sign-in with Test IdP failed" in page.locator("[role=status]").inner_text()


def test_team_groups_land_on_a_fleet_of_the_mapped_teams_only(page, sso_settings, oidc_provider):
    """GROUP=TEAM:ROLE through the real provider: the fleet shows the mapped team's clusters;
    at the next sign-in with other groups, the old team is gone."""
    import dataclasses

    from accounts import teams
    from accounts.roles import team_roles
    from clusters import registration
    from watchkeeper.sso import parse_group_roles

    sso_settings.WATCHKEEPER_OIDC = dataclasses.replace(
        sso_settings.WATCHKEEPER_OIDC,
        rules=parse_group_roles("ops=blue:operator, staff=red:viewer"),
    )
    blue, red = teams.team_create(name="blue"), teams.team_create(name="red")
    registration.cluster_add(name="bluebird", url="unix:///run/a.sock", team=blue)
    registration.cluster_add(name="redwood", url="unix:///run/b.sock", team=red)
    sign_in_with_provider(page, "oscar")  # groups: ops
    assert page.locator("tr.fleet-row[data-cluster=bluebird]").is_visible()
    assert page.locator("tr.fleet-row").count() == 1
    assert "redwood" not in page.content()
    oscar = user_named("oscar")
    assert team_roles(oscar) == {blue.pk: "operator"}
    screenshot(page, "sso-team-fleet")

    oidc_provider.set_groups("oscar", ["staff"])
    page.context.clear_cookies()
    sign_in_with_provider(page, "oscar")
    assert page.locator("tr.fleet-row[data-cluster=redwood]").is_visible()
    assert page.locator("tr.fleet-row").count() == 1
    assert team_roles(user_named("oscar")) == {red.pk: "viewer"}
    assert page.context.request.get("/clusters/bluebird/").status == 404
