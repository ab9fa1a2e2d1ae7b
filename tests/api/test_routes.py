"""Every API route, read and write, with every role (a session) and every token scope: the table
below must name each route the API registers, with the role it needs. Below that role: 403
role_required and nothing changes (every row of every table compared); at or above it: the
route's success status."""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts import teams as team_services
from accounts.roles import ADMIN, OPERATOR, RANK, VIEWER
from api.urls import api
from tests.api.conftest import token_for
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {name} placeholders filled from `world`
    role: str
    ok: int = 200
    body: dict | None = None
    query: str = ""
    extra: dict = field(default_factory=dict)


def _soon(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).date().isoformat()


ROUTES = [
    # reads
    Route("get", "/clusters", VIEWER),
    Route("get", "/clusters/lab/report", VIEWER),
    Route("get", "/clusters/lab/evaluations", VIEWER, query="since=2000-01-01T00:00:00Z"),
    Route("get", "/findings", VIEWER),
    Route("get", "/clusters/lab/nodes", VIEWER),
    Route("get", "/clusters/lab/services", VIEWER),
    Route("get", "/clusters/lab/windows", VIEWER),
    Route("get", "/clusters/lab/occurrences", VIEWER, query="from=2026-12-01&to=2026-12-31"),
    Route("get", "/clusters/lab/backups", VIEWER),
    Route("get", "/clusters/lab/checklists", VIEWER),
    Route("get", "/checklists/{run}", VIEWER),
    Route("get", "/reminders", VIEWER),
    # writes
    Route("post", "/clusters", ADMIN, 201, {"name": "next", "url": "unix:///run/next.sock"}),
    Route("patch", "/clusters/lab", ADMIN, 200, {"environment": "staging"}),
    Route("delete", "/clusters/lab", ADMIN, 204, query="confirm=lab"),
    Route("post", "/clusters/lab/polls", OPERATOR, 202),
    Route("get", "/clusters/lab/polls/{poll}", OPERATOR),
    Route(
        "post",
        "/clusters/lab/waivers",
        OPERATOR,
        201,
        {"rule": "images.tag-pinned", "object": "", "reason": "vendor", "expires": _soon(20)},
    ),  # fmt: skip
    Route("post", "/waivers/{waiver}/revoke", OPERATOR, 200, {"note": "fixed"}),
    Route(
        "post",
        "/clusters/lab/windows",
        OPERATOR,
        201,
        {
            "weekdays": "wed",
            "start_time": "03:00",
            "duration_minutes": 60,
            "tz": "UTC",
            "name": "midweek",
        },
    ),  # fmt: skip
    Route("patch", "/windows/{window}", OPERATOR, 200, {"duration_minutes": 90}),
    Route("post", "/occurrences/{occurrence}/cancel", OPERATOR, 200, {"reason": "holiday"}),
    Route(
        "post",
        "/occurrences/{started}/reboots",
        OPERATOR,
        201,
        {"node_id": "{node}", "note": "uptime checked on the console"},
    ),  # fmt: skip
    Route(
        "post",
        "/backups/{backup}/validations",
        OPERATOR,
        201,
        {"evidence": "restored to staging, row counts match", "passed": True},
    ),  # fmt: skip
    Route(
        "post",
        "/clusters/lab/checklists",
        OPERATOR,
        201,
        {"template": "switchover", "target": "2027-01-10T10:00:00", "tz": "Europe/Berlin"},
    ),  # fmt: skip
    Route("patch", "/checklists/{run}/steps/{step}", OPERATOR, 200, {"done": True}),
]


def _fill(text: str, world: dict) -> str:
    values = {
        "run": world["run"].pk, "step": world["run"].steps.first().pk,
        "window": world["window"].pk, "occurrence": world["occurrence"].pk,
        "started": world["started"].pk, "backup": world["backup"].pk,
        "waiver": world["waiver"].pk, "poll": world["poll"], "node": world["node"],
    }  # fmt: skip
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def call(client, route: Route, world: dict, **headers):
    url = "/api/v1" + _fill(route.path, world) + (f"?{route.query}" if route.query else "")
    send = getattr(client, route.method)
    if route.body is None:
        return send(url, **headers)
    body = {k: _fill(v, world) if isinstance(v, str) else v for k, v in route.body.items()}
    return send(url, body, content_type="application/json", **headers)


def database():
    """Every row of every table of the project's apps, the audit log included (the token's
    last use left out: a refused call still used its token)."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in (
            "clusters", "readiness", "maintenance", "accounts", "auth", "audit",
        ):  # fmt: skip
            names = [
                f.attname for f in model._meta.concrete_fields
                if f.name not in ("last_login", "last_used_at")
            ]  # fmt: skip
            rows[model._meta.label] = sorted(
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                for row in model.objects.values_list(*names)
            )
    return rows


def registered() -> set[tuple[str, str]]:
    return {
        (method.lower(), route.replace("<", "{").replace(">", "}").split(":")[-1])
        for _, router in api._routers
        for route, view in router.path_operations.items()
        for operation in view.operations
        for method in operation.methods
    }


def _normal(path: str) -> str:
    """A path template of the table with ninja's parameter names made generic."""
    parts = path.strip("/").split("/")
    return "/" + "/".join("{}" if p.startswith("{") or p == "lab" else p for p in parts)


def test_the_table_names_every_route_the_api_registers():
    routed = {(method, _normal(path)) for method, path in registered()}
    tabled = {(route.method, _normal(route.path)) for route in ROUTES}
    assert tabled == routed


def _principals(django_user_model, people):
    """(label, role it acts with, headers, a client logged in or None): each role by session,
    each token scope of an admin's token."""
    nobody = make_user(django_user_model, "nobody", None)
    sessions = [(f"session:{role}", role, user) for role, user in [(None, nobody), *people.items()]]
    tokens = [
        (f"token:{scope}", role, token_for(people[ADMIN], scope))
        for scope, role in (("read", VIEWER), ("operate", OPERATOR), ("admin", ADMIN))
    ]
    return sessions, tokens


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_role_and_token_scope_gets_exactly_what_the_route_allows(
    client, world, people, django_user_model, route
):
    sessions, tokens = _principals(django_user_model, people)
    attempts = [(label, role, {}, user) for label, role, user in sessions] + [
        (label, role, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}, None)
        for label, role, secret in tokens
    ]
    for label, role, headers, user in attempts:
        client.logout()
        if user is not None:
            client.force_login(user)
        cache.clear()  # a poll asked for by the previous caller would be 409 for this one
        if RANK[role] < RANK[route.role]:
            before = database()
            response = call(client, route, world, **headers)
            assert response.status_code == 403, (label, response.content)
            assert response.json()["code"] == "role_required", label
            assert database() == before, label
            continue
        with transaction.atomic():  # each allowed caller starts from the same world
            response = call(client, route, world, **headers)
            transaction.set_rollback(True)
        assert response.status_code == route.ok, (label, response.content)


ROW_ROUTES = [r for r in ROUTES if r.role == OPERATOR and not r.path.startswith("/clusters/")]


@pytest.mark.parametrize("route", ROW_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_row_of_a_team_cluster_is_403_below_the_role_and_404_outside_the_team(
    client, world, django_user_model, route
):
    """A viewer of the cluster's team who operates another team's clusters: 403 (the role is
    short), as on the cluster's own routes; an operator of that other team only: 404."""
    other = team_services.team_create(name="other")
    viewer_here = make_user(django_user_model, "viewer-here", None)
    team_services.membership_set(team=world["cluster"].team, user=viewer_here, role=VIEWER)
    team_services.membership_set(team=other, user=viewer_here, role=OPERATOR)
    outsider = make_user(django_user_model, "outsider", None)
    team_services.membership_set(team=other, user=outsider, role=OPERATOR)
    before = database()
    for user, status, code in ((viewer_here, 403, "role_required"), (outsider, 404, "not_found")):
        client.force_login(user)
        response = call(client, route, world)
        assert (response.status_code, response.json()["code"]) == (status, code), user
    assert database() == before
