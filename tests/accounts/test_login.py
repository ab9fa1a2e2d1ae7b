"""Sign-in, throttling of failed attempts, password change and reset by email."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def attempt(client, username, password, address="10.0.0.9"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_signs_in_with_the_right_password(client, viewer):
    response = attempt(client, "vera", "pw-vera")
    assert response.status_code == 302
    assert client.get(reverse("clusters:fleet")).status_code == 200


def test_it_locks_a_username_after_five_failures_even_with_the_right_password(client, viewer):
    for _ in range(5):
        assert attempt(client, "vera", "wrong").status_code == 200
    response = attempt(client, "vera", "pw-vera")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session


def test_it_locks_an_address_that_tries_many_usernames(client, viewer):
    for number in range(5):
        attempt(client, f"guess{number}", "wrong", address="10.9.9.9")
    assert attempt(client, "vera", "pw-vera", address="10.9.9.9").status_code == 429
    assert attempt(client, "vera", "pw-vera", address="10.1.1.1").status_code == 302


def test_a_success_clears_the_count_for_that_username(client, viewer):
    for _ in range(4):
        attempt(client, "vera", "wrong", address="10.0.0.1")
    assert attempt(client, "vera", "pw-vera", address="10.0.0.2").status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, "vera", "wrong", address="10.0.0.3")
    assert attempt(client, "vera", "pw-vera", address="10.0.0.4").status_code == 302


def test_it_changes_the_password(client, viewer):
    client.force_login(viewer)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "pw-vera",
            "new_password1": "a fresh long password 42",
            "new_password2": "a fresh long password 42",
        },
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("a fresh long password 42")


def test_it_resets_a_forgotten_password_by_email(client, viewer, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    viewer.email = "vera@example.org"
    viewer.save()
    client.post(reverse("accounts:password_reset"), {"email": "vera@example.org"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url
    response = client.post(
        form_url,
        {"new_password1": "another long secret 7", "new_password2": "another long secret 7"},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("another long secret 7")


def test_logout_needs_a_post(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("clusters:fleet")).status_code == 302


def test_pages_forbid_framing_and_sniffing(client):
    response = client.get(LOGIN)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
