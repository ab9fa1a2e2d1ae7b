"""`make run`: prepare the database, then run web, worker and beat with prefixed logs.

Ctrl-C (SIGINT) or SIGTERM stops all three cleanly; if one dies, the others are stopped too.
"""

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
COLORS = {"web": "\033[36m", "worker": "\033[35m", "beat": "\033[33m", "setup": "\033[32m"}
RESET = "\033[0m"


def _say(name: str, line: str) -> None:
    color = COLORS.get(name, "") if sys.stdout.isatty() else ""
    reset = RESET if color else ""
    sys.stdout.write(f"{color}{name:>6} |{reset} {line}")
    if not line.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


def _manage(*args: str) -> None:
    """Run a manage.py command in the foreground, failing loudly."""
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, check=True)


def prepare() -> None:
    """Migrate, collect static files, create the first admin, set up the lab when possible."""
    _manage("migrate", "--no-input", "-v", "0")
    _manage("collectstatic", "--no-input", "-v", "0")
    _manage("ensure_admin")
    if os.environ.get("WATCHKEEPER_NO_LAB") != "1":
        try:
            _manage("lab_bootstrap")
        except subprocess.CalledProcessError:
            _say("setup", "the lab could not be started; continuing without it")


def commands(port: str, host: str) -> dict[str, list[str]]:
    """The three processes of the product."""
    python = sys.executable
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "watchkeeper.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "2"),
            "--access-logfile",
            "-",
            "--forwarded-allow-ips",
            "127.0.0.1",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "watchkeeper",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "2"),
            "--without-gossip",
            "--without-mingle",
        ],
        "beat": [python, "-m", "celery", "-A", "watchkeeper", "beat", "--loglevel", "INFO"],
    }


def supervise(procs: dict[str, subprocess.Popen]) -> int:
    """Relay prefixed output until a signal arrives or a process exits; then stop all."""
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    selector = selectors.DefaultSelector()
    for name, proc in procs.items():
        os.set_blocking(proc.stdout.fileno(), False)
        selector.register(proc.stdout, selectors.EVENT_READ, name)
    exit_code = 0
    buffers = {name: b"" for name in procs}
    while stopping["signal"] is None:
        for key, _ in selector.select(timeout=0.5):
            chunk = key.fileobj.read() or b""
            buffers[key.data] += chunk
            *lines, buffers[key.data] = buffers[key.data].split(b"\n")
            for line in lines:
                _say(key.data, line.decode(errors="replace"))
        dead = [name for name, proc in procs.items() if proc.poll() is not None]
        if dead:
            _say("setup", f"{', '.join(dead)} exited; stopping the others")
            exit_code = 1
            break
    _say("setup", "stopping web, worker and beat…")
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say("setup", f"{name} did not stop in time; killing it")
            proc.kill()
            proc.wait()
        rest = proc.stdout.read() or b""
        for line in rest.decode(errors="replace").splitlines():
            _say(name, line)
    _say("setup", "stopped")
    return exit_code


def main() -> int:
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchkeeper.settings")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        prepare()
    except subprocess.CalledProcessError as exc:
        _say("setup", f"preparation failed ({' '.join(exc.cmd[1:])}); not starting")
        return 2
    procs = {
        name: subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=BASE_DIR,
            start_new_session=True,
        )
        for name, cmd in commands(port, host).items()
    }
    _say("setup", f"Watchkeeper is starting on http://{host}:{port}/ (Ctrl-C stops everything)")
    return supervise(procs)


if __name__ == "__main__":
    sys.exit(main())
