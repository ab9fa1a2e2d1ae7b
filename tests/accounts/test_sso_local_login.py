"""WATCHKEEPER_LOCAL_LOGIN=false: no password sign-in anywhere, no reset; manage.py still works."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from watchkeeper.sso import authentication_backends, from_environ

SSO = {
    "WATCHKEEPER_OIDC_ISSUER": "https://login.example.com",
    "WATCHKEEPER_OIDC_CLIENT_ID": "watchkeeper",
    "WATCHKEEPER_OIDC_CLIENT_SECRET": "s3cret",
    "WATCHKEEPER_OIDC_PROVIDER_NAME": "Example SSO",
}


@pytest.fixture
def local_off(settings):
    settings.WATCHKEEPER_OIDC = from_environ(SSO)
    settings.WATCHKEEPER_LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = authentication_backends(local_login=False, sso=True)
    return settings


def test_the_login_page_offers_sso_beside_the_form_when_both_are_on(client, settings):
    settings.WATCHKEEPER_OIDC = from_environ(SSO)
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Example SSO" in page
    assert 'name="password"' in page


def test_it_refuses_a_correct_password(client, local_off, viewer):
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Example SSO" in page
    assert 'name="password"' not in page
    response = client.post(
        "/accounts/login/", {"username": viewer.username, "password": "pw-" + viewer.username}
    )
    assert response.status_code == 403
    assert "Password sign-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert authenticate(username=viewer.username, password="pw-" + viewer.username) is None


def test_the_admin_site_refuses_a_correct_password(client, local_off, admin_user):
    client.post(
        "/admin/login/?next=/admin/",
        {"username": admin_user.username, "password": "pw-" + admin_user.username},
    )
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/accounts/reset/", "/accounts/reset/MQ/set-password/"])
def test_password_reset_is_off(client, local_off, url):
    assert client.get(url).status_code == 404


def test_password_change_is_off(client, local_off, viewer):
    client.force_login(viewer, backend="accounts.sso.backend.WatchkeeperOIDCBackend")
    assert client.get("/accounts/password/").status_code == 404


def test_manage_py_commands_still_work(local_off, db, django_user_model):
    call_command("ensure_admin")
    admin = django_user_model.objects.get(is_superuser=True)
    admin.set_password("a-new-long-password")
    admin.save()
    assert admin.check_password("a-new-long-password")


def test_password_sign_in_works_with_local_login_on(client, viewer):
    client.post(
        "/accounts/login/", {"username": viewer.username, "password": "pw-" + viewer.username}
    )
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("url", ["/accounts/sso/start/", "/accounts/sso/callback/"])
def test_the_sso_pages_are_404_without_sso(client, url):
    assert client.get(url).status_code == 404
