"""`/healthz` for container and load-balancer checks: answered before host checks and HTTPS
redirects, without login.

Each dependency is checked and reported on its own line: `database`, `broker` (Celery's
queue), `cache`, and the checks the apps register at start-up (`beat`: the scheduler's last
tick, registered by the dashboard). The status is 503 when one the product needs is down
(database, broker, beat), 200 otherwise: pages and sign-in work without the cache (degraded).

`/healthz?only=database` checks the database alone: what the web process itself needs. The
web container's health check uses it, so that an outage of Redis does not get the web
containers restarted in a loop while they still serve sign-in and pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpResponse

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
TIMEOUT_S = 2.0  # per dependency


@dataclass(frozen=True)
class Status:
    """One dependency's state: "ok", "down", or "unknown" (no data yet: not a failure)."""

    state: str
    detail: str = ""

    def line(self, name: str) -> str:
        return f"{name}: {self.state}" + (f" ({self.detail})" if self.detail else "")


Check = Callable[[], Status]


def _database() -> Status:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        connection.close()  # the next request reconnects
        return Status("down", type(exc).__name__)
    return Status("ok")


def _broker() -> Status:
    from watchkeeper.celery import app  # deferred: autodiscovers tasks (needs loaded apps)

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; reported, not raised
        return Status("down", type(exc).__name__)
    return Status("ok")


def _cache() -> Status:
    try:
        cache.set("healthz", 1, timeout=10)
        if cache.get("healthz") != 1:
            return Status("down", "a value written was not read back")
    except Exception as exc:  # noqa: BLE001 - the cache backends raise many kinds; reported
        return Status("down", type(exc).__name__)
    return Status("ok", "")


# name -> (check, whether the product needs it: 503 when it is down)
CHECKS: dict[str, tuple[Check, bool]] = {
    "database": (_database, True),
    "broker": (_broker, True),
    "cache": (_cache, False),
}


def register(name: str, check: Check, *, required: bool) -> None:
    """Add a check (an app's AppConfig.ready() does: the lower layers know no app)."""
    CHECKS[name] = (check, required)


def report(only: str = "") -> tuple[bool, list[str]]:
    """Run the checks (ONLY: that one); (healthy, one line per dependency)."""
    healthy, lines, down = True, [], []
    for name, (check, required) in CHECKS.items():
        if only and name != only:
            continue
        try:
            status = check()
        except Exception as exc:  # noqa: BLE001 - a check's own failure is a failure
            log.warning("health check %s failed", name, exc_info=True)
            status = Status("down", type(exc).__name__)
        if status.state == "down":
            down.append(name)
            healthy = healthy and not required
        lines.append(status.line(name) + ("" if required else " [optional]"))
    head = (
        "ok" if healthy else "unavailable: " + ", ".join(name for name in down if CHECKS[name][1])
    )
    return healthy, [head, *lines]


class HealthCheckMiddleware:
    """Answer /healthz: 200 when every dependency the product needs is up, 503 otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        only = request.GET.get("only", "")
        if only and only not in CHECKS:
            return HttpResponse(f"unknown check {only[:40]!r}\n", status=400)
        healthy, lines = report(only)
        return HttpResponse(
            "\n".join(lines) + "\n", status=200 if healthy else 503, content_type="text/plain"
        )
