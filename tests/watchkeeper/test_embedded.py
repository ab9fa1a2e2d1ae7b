"""The embedded default: `make run`'s runner starts web, worker and beat with no server at all."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_product_runs_on_sqlite_without_postgres_or_redis(tmp_path):
    port = free_port()
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PORT": str(port),
        "WATCHKEEPER_VAR_DIR": str(tmp_path / "var"),
        "WATCHKEEPER_NO_LAB": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper.runner"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            page = None
            while time.monotonic() < deadline and page is None:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/accounts/login/", timeout=2
                    ) as response:
                        page = response.read().decode()
                except OSError:
                    time.sleep(0.5)
            assert page is not None, log.read_text()[-3000:]
            assert "Sign in" in page
            # beat enqueues the poll scheduler every 10 s; the worker must run it
            # through the server-less broker.
            while time.monotonic() < deadline:
                text = log.read_text()
                if "enqueue_due_polls" in text and "succeeded" in text:
                    break
                time.sleep(0.5)
            text = log.read_text()
            assert "Created admin account 'admin' with password:" in text
            assert "succeeded" in text, text[-3000:]
            assert "beat |" in text and "worker |" in text
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=40)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "stopped" in text
    assert (tmp_path / "var" / "watchkeeper.sqlite3").exists()
    assert (tmp_path / "var" / "celery-broker.sqlite3").exists()
