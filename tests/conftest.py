import os

import pytest
from django.contrib.auth.models import Group

pytest_plugins = ["tests.lab.fixtures"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """With CI=true every test must really run: a skip fails the run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI") == "true" and skipped:
        terminalreporter.write_line(
            f"CI=true: {len(skipped)} test(s) were skipped; everything must run in CI.", red=True
        )
        config._ci_skipped = True


def pytest_sessionfinish(session, exitstatus):
    if getattr(session.config, "_ci_skipped", False) and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (login throttling lives there)."""
    from django.core.cache import cache

    cache.clear()
    yield


def make_user(django_user_model, username: str, role: str | None):
    from accounts.services import user_set_role

    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if role:
        user_set_role(user=user, role=role)
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return make_user(django_user_model, "vera", "viewer")


@pytest.fixture
def operator(db, django_user_model):
    return make_user(django_user_model, "otto", "operator")


@pytest.fixture
def admin_user(db, django_user_model):
    return make_user(django_user_model, "ada", "admin")


@pytest.fixture
def nobody(db, django_user_model):
    return make_user(django_user_model, "nemo", None)


@pytest.fixture
def roles_exist(db):
    return list(Group.objects.values_list("name", flat=True))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests make hundreds of accounts: a cheap hasher (the real one is PBKDF2, made slow on
    purpose); the login, reset and throttling tests still check passwords for real."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
