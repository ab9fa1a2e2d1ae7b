"""Settings come from the environment; bad values stop the start with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from watchkeeper import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = os.environ["WATCHKEEPER_ENCRYPTION_KEYS"]


def load_settings(tmp_path, **variables):
    """Import the settings module in a fresh interpreter with exactly these variables."""
    environ = {
        "PATH": os.environ["PATH"],
        "WATCHKEEPER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "watchkeeper.settings",
        **variables,
    }
    code = (
        "from django.conf import settings; s = settings; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL.split(':')[0], "
        "s.MAILERS['default']['BACKEND'].rsplit('.', 2)[-2], s.DEBUG, s.SESSION_COOKIE_SECURE)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_parses_booleans_and_rejects_other_words():
    assert env.get_bool("X", environ={"X": "Yes"}) is True
    assert env.get_bool("X", environ={"X": "off"}) is False
    assert env.get_bool("X", default=True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match=r"X='maybe' is not a boolean"):
        env.get_bool("X", environ={"X": "maybe"})


def test_it_rejects_bad_and_out_of_range_numbers():
    assert env.get_int("P", 25, environ={"P": " 587 "}) == 587
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env.get_int("P", 25, environ={"P": "smtp"})
    with pytest.raises(ImproperlyConfigured, match="between 1 and 65535"):
        env.get_int("P", 25, environ={"P": "70000"}, minimum=1, maximum=65535)


def test_it_reads_a_value_from_a_file_variable(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert env.get("DB_PW", environ={"DB_PW_FILE": str(secret)}) == "s3cret"
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.get("DB_PW", environ={"DB_PW_FILE": str(tmp_path / "missing")})


def test_it_splits_lists_and_drops_blanks():
    assert env.get_list("H", [], environ={"H": "a.example, ,b.example"}) == [
        "a.example",
        "b.example",
    ]


def test_the_embedded_default_needs_no_server_and_keeps_its_secrets(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "sqla+sqlite",
        "filebased",
        "False",
        "False",
    ]
    secret_key = (tmp_path / "var" / "secret_key").read_text()
    assert len(secret_key.strip()) >= 50
    assert oct((tmp_path / "var" / "secret_key").stat().st_mode)[-3:] == "600"
    assert load_settings(tmp_path).returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == secret_key


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = load_settings(
        tmp_path, DATABASE_URL="postgres://u@db/watchkeeper", WATCHKEEPER_ENCRYPTION_KEYS=GOOD_KEY
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required when DATABASE_URL is set" in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DATABASE_URL": "mysql://u@db/x"}, "DATABASE_URL must be postgres://"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL must start with redis://"),
        ({"DEBUG": "sometimes"}, "DEBUG='sometimes' is not a boolean"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT='smtp' is not a whole number"),
        ({"WATCHKEEPER_ENCRYPTION_KEYS": "not-a-key"}, "key 1 is not a Fernet key"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='LOUD'"),
    ],
)
def test_it_names_the_bad_variable(tmp_path, variables, message):
    base = {"SECRET_KEY": "k" * 60, "WATCHKEEPER_ENCRYPTION_KEYS": GOOD_KEY}
    result = load_settings(tmp_path, **{**base, **variables})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_switch_to_postgres_redis_smtp_and_secure_cookies(tmp_path):
    result = load_settings(
        tmp_path,
        DATABASE_URL="postgres://u:p@db:5432/watchkeeper",
        REDIS_URL="redis://r:6379/0",
        SECRET_KEY="k" * 60,
        WATCHKEEPER_ENCRYPTION_KEYS=GOOD_KEY,
        EMAIL_HOST="mail",
        WATCHKEEPER_HTTPS="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "redis",
        "smtp",
        "False",
        "True",
    ]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    environ = {
        "PATH": os.environ["PATH"],
        "WATCHKEEPER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": "a-production-like-secret-" + "q8Z!x" * 10,
        "WATCHKEEPER_ENCRYPTION_KEYS": GOOD_KEY,
        "WATCHKEEPER_HTTPS": "true",
        "ALLOWED_HOSTS": "watchkeeper.example.org",
        "EMAIL_HOST": "mail.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
