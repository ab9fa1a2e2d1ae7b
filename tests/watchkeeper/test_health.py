"""The container health endpoint and the locked migration entry point."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_it_answers_healthz_for_any_host_without_login(client, settings):
    settings.ALLOWED_HOSTS = ["watchkeeper.example.org"]
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.text.splitlines() == [
        "ok",
        "database: ok",
        "broker: ok",
        "cache: ok [optional]",
        "beat: unknown (no tick recorded yet)",
    ]


@pytest.mark.django_db
def test_healthz_reports_the_last_beat_tick_and_503_when_it_is_stale(client):
    from dashboard.models import Heartbeat
    from dashboard.tasks import enqueue_due_polls

    enqueue_due_polls()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text.splitlines()[-1].startswith("beat: ok (last tick ")
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=3))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.text.splitlines()[0] == "unavailable: beat"
    assert response.text.splitlines()[-1].startswith("beat: down (last tick ")
    assert client.get("/healthz?only=database").status_code == 200
    assert client.get("/healthz?only=nope").status_code == 400


@pytest.mark.django_db
def test_healthz_names_a_cache_that_is_down_without_failing(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "cache: down (ConnectionError) [optional]" in response.text.splitlines()


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_it_reports_an_unreachable_database(tmp_path):
    environ = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
               "WATCHKEEPER_VAR_DIR": str(tmp_path)}  # fmt: skip
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(r.status_code, r.content.decode().strip())"
    )
    result = subprocess.run([sys.executable, "-c", code], env=environ, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.stdout.startswith("503 unavailable: database"), result.stderr[-2000:]


def test_concurrent_locked_migrations_both_succeed(tmp_path):
    from django.db import connection

    name = "wk_migrate_race"
    base = connection.settings_dict
    url = f"postgres://{base['USER']}@{base['HOST'] or '127.0.0.1'}:{base['PORT'] or 5432}/"
    admin = {**os.environ, "PGHOST": base["HOST"] or "127.0.0.1", "PGUSER": base["USER"]}
    subprocess.run(["dropdb", "--if-exists", name], env=admin, check=True)
    subprocess.run(["createdb", name], env=admin, check=True)
    try:
        environ = {**os.environ, "DATABASE_URL": url + name, "WATCHKEEPER_VAR_DIR": str(tmp_path)}
        procs = [
            subprocess.Popen([sys.executable, "-m", "watchkeeper.migrate"], env=environ, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [proc.communicate(timeout=180)[0] for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        assert sum("No migrations to apply" in output for output in outputs) == 1
    finally:
        subprocess.run(["dropdb", "--if-exists", name], env=admin, check=False)
