"""Teams: a member of team A never sees a cluster of team B, in any form.

Every URL pattern of the project is walked (the Django resolver's list, not a hand-made one):
a route that names a cluster or one of its objects (window occurrence, backup, checklist
run, step, waiver, calendar token) is called with team B's identifiers by a viewer, an
operator and an admin of team A, and answers 404 to GET and POST (never 403: that would
say the cluster exists) with the database unchanged. Every other route is in NOT_CLUSTER,
with why; the two lists together are asserted to be exactly the project's routes. The pages
and API calls that list clusters are read as those users and must not mention team B.
"""

from datetime import date, time, timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts import teams as team_services
from accounts.models import Team
from accounts.roles import ADMIN, OPERATOR, RANK, VIEWER
from clusters import registration
from clusters.models import Cluster
from dashboard import pipeline
from maintenance.models import Freeze, Reminder
from maintenance.services import backups, checklists, freezes, windows
from readiness import services as readiness
from tests.clusters.conftest import fetcher, load_raw, recorded_now
from tests.conftest import make_user
from tests.web.test_every_url import route_names

pytestmark = pytest.mark.django_db

MARK = "zebra"  # every name of team B's objects contains it; team A must never read it


def database():
    """Every row of the project's tables (binary columns as bytes, so equal rows compare
    equal)."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in ("clusters", "readiness", "maintenance", "accounts", "auth"):
            fields = [f.attname for f in model._meta.concrete_fields if f.name != "last_login"]
            rows[model._meta.label] = sorted(
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                for row in model.objects.values_list(*fields)
            )
    return rows


def _cluster(*, name: str, team: Team, owner):
    cluster = registration.cluster_add(name=name, url="unix:///run/docker.sock", team=team)
    raw = load_raw("lab_poll1")
    pipeline.cluster_poll(cluster=cluster, now=recorded_now(raw), fetch=fetcher(raw))
    now = timezone.now()
    windows.window_create(
        cluster=cluster, weekdays="sun", start_time=time(2, 30), duration_minutes=60,
        tz="Europe/Berlin", name=f"{name}-weekly", now=now,
    )  # fmt: skip
    run = checklists.checklist_start(
        cluster=cluster, template="switchover", tz="UTC", now=now,
        target=(now + timedelta(days=3)).replace(tzinfo=None),
    )  # fmt: skip
    return {
        "cluster": cluster,
        "window": cluster.maintenance_windows.get(),
        "occurrence": cluster.maintenance_windows.get().occurrences.first(),
        "freeze": freezes.freeze_add(
            name=f"{name} freeze",
            first_day=date(2099, 12, 20),
            last_day=date(2099, 12, 31),
            cluster=cluster,
            now=now,
        )[0],  # fmt: skip
        "reminder": Reminder.objects.create(
            cluster=cluster,
            kind="grade_drop",
            subject_key=name,
            recipient="a@example.org",
            title=f"{name} grade",
            body="b",
            due_at=now,
            next_attempt_at=now,
            dedup_key=name,
            message_id=f"<{name}@x>",
            status="failed",
            created_at=now,
        ),  # fmt: skip
        "backup": backups.backup_create(
            cluster=cluster, name=f"{name}-db", interval_days=60, now=now
        ),
        "run": run,
        "step": run.steps.first(),
        "waiver": readiness.waiver_create(
            cluster=cluster,
            rule="images.tag-pinned",
            reason=f"{name} reason",
            owner=owner,
            expires_at=now + timedelta(days=3),
            created_by=owner,
            now=now,
        ),  # fmt: skip
    }


@pytest.fixture
def teams(django_user_model):
    team_a = team_services.team_create(name="alpha")
    team_b = team_services.team_create(name=f"{MARK}-team")
    users = {}
    for role in (VIEWER, OPERATOR, ADMIN):
        user = make_user(django_user_model, f"a-{role}", None)
        team_services.membership_set(team=team_a, user=user, role=role)
        users[role] = user
    b_operator = make_user(django_user_model, f"{MARK}-op", None)
    team_services.membership_set(team=team_b, user=b_operator, role=OPERATOR)
    a_owner = make_user(django_user_model, "a-owner", None)
    team_services.membership_set(team=team_a, user=a_owner, role=OPERATOR)
    return {
        "a": _cluster(name="ant", team=team_a, owner=a_owner),
        "b": _cluster(name=MARK, team=team_b, owner=b_operator),
        "users": users,
        "team_b": team_b,
    }


# route name -> team B's identifiers for it
CLUSTER_ROUTES = {
    "clusters:detail": lambda b: [b["cluster"].name],
    "clusters:settings": lambda b: [b["cluster"].name],
    "clusters:calendar_token_rotate": lambda b: [b["cluster"].name],
    "clusters:delete": lambda b: [b["cluster"].name],
    "clusters:report": lambda b: [b["cluster"].name],
    "clusters:poll_now": lambda b: [b["cluster"].name],
    "clusters:poll_status": lambda b: [b["cluster"].name],
    "readiness:waiver_revoke": lambda b: [b["waiver"].pk],
    "maintenance:occurrence": lambda b: [b["occurrence"].pk],
    "maintenance:occurrence_confirm": lambda b: [b["occurrence"].pk],
    "maintenance:backup_validate": lambda b: [b["backup"].pk],
    "maintenance:checklist": lambda b: [b["run"].pk],
    "maintenance:step_tick": lambda b: [b["step"].pk],
    "maintenance:calendar": lambda b: [b["cluster"].calendar_token],
    "maintenance:window": lambda b: [b["window"].pk],
    "maintenance:window_edit": lambda b: [b["window"].pk],
    "maintenance:window_delete": lambda b: [b["window"].pk],
    "maintenance:occurrence_cancel": lambda b: [b["occurrence"].pk],
    "maintenance:occurrence_restore": lambda b: [b["occurrence"].pk],
    "maintenance:freeze_delete": lambda b: [b["freeze"].pk],
    "maintenance:reminder_retry": lambda b: [b["reminder"].pk],
    "api:cluster_report": lambda b: [b["cluster"].name],
    "api:cluster_evaluations": lambda b: [b["cluster"].name],
    "api:nodes": lambda b: [b["cluster"].name],
    "api:services": lambda b: [b["cluster"].name],
    "api:windows": lambda b: [b["cluster"].name],
    "api:occurrences": lambda b: [b["cluster"].name],
    "api:backups": lambda b: [b["cluster"].name],
    "api:checklists": lambda b: [b["cluster"].name],
    "api:checklist": lambda b: [b["run"].pk],
    "api:cluster_update": lambda b: [b["cluster"].name],
    "api:cluster_delete": lambda b: [b["cluster"].name],
    "api:poll_request": lambda b: [b["cluster"].name],
    "api:poll_status": lambda b: [b["cluster"].name, 1],
    "api:waiver_create": lambda b: [b["cluster"].name],
    "api:waiver_revoke": lambda b: [b["waiver"].pk],
    "api:window_create": lambda b: [b["cluster"].name],
    "api:window_update": lambda b: [b["window"].pk],
    "api:occurrence_cancel": lambda b: [b["occurrence"].pk],
    "api:reboot_confirm": lambda b: [b["occurrence"].pk],
    "api:backup_validation": lambda b: [b["backup"].pk],
    "api:checklist_start": lambda b: [b["cluster"].name],
    "api:step_mark": lambda b: [b["run"].pk, b["step"].pk],
}
# API writes: the method they answer to, and the role they need anywhere (below it: 403 before
# any lookup, the same for every name, so it reveals nothing)
API_WRITES = {
    "api:cluster_update": ("patch", ADMIN),
    "api:cluster_delete": ("delete", ADMIN),
    "api:poll_request": ("post", OPERATOR),
    "api:poll_status": ("get", OPERATOR),
    "api:waiver_create": ("post", OPERATOR),
    "api:waiver_revoke": ("post", OPERATOR),
    "api:window_create": ("post", OPERATOR),
    "api:window_update": ("patch", OPERATOR),
    "api:occurrence_cancel": ("post", OPERATOR),
    "api:reboot_confirm": ("post", OPERATOR),
    "api:backup_validation": ("post", OPERATOR),
    "api:checklist_start": ("post", OPERATOR),
    "api:step_mark": ("patch", OPERATOR),
}
# valid bodies, so that what answers is the lookup (not the body's validation)
API_BODIES = {
    "api:cluster_update": {"poll_interval": 60},
    "api:waiver_create": {"rule": "images.tag-pinned", "reason": "r", "expires": "2099-01-01"},
    "api:waiver_revoke": {"note": "x"},
    "api:window_create": {
        "weekdays": "sun",
        "start_time": "03:00",
        "duration_minutes": 60,
        "tz": "UTC",
        "name": "sneaky",
    },  # fmt: skip
    "api:window_update": {"name": "sneaky"},
    "api:occurrence_cancel": {"reason": "x"},
    "api:reboot_confirm": {"node_id": "x", "note": "x"},
    "api:backup_validation": {"evidence": "restored fine", "passed": True},
    "api:checklist_start": {"template": "switchover", "target": "2099-01-01T10:00"},
    "api:step_mark": {"done": True},
}
SHARED_PATH = {"api:windows", "api:checklists"}  # POST there: api:window_create, checklist_start
GET_ONLY = {"maintenance:calendar"}  # 405 to any POST, whatever the token
QUERY = {"api:occurrences": "?from=2026-01-01&to=2026-02-01"}

# Routes that name no cluster: the lists are read below (nothing of team B on them).
LISTS = {
    "clusters:fleet": "fleet: rows, counts, filters",
    "readiness:findings": "findings of the clusters one sees",
    "readiness:findings_csv": "the findings page as CSV",
    "readiness:waivers": "waivers of the clusters one sees",
    "maintenance:overview": "calendar, windows, freezes, the cluster choice",
    "maintenance:backups": "backups of the clusters one sees",
    "maintenance:checklists": "checklist runs; the start form's cluster choice",
    "maintenance:reminders": "reminders of the clusters one sees",
    "maintenance:freezes": "freezes of the clusters one sees and all-cluster ones",
    "api:clusters": "GET /api/v1/clusters",
    "api:findings": "GET /api/v1/findings",
    "api:reminders": "GET /api/v1/reminders",
}
NOT_CLUSTER = {
    **LISTS,
    "clusters:new": "the add form: the team choice offers only teams one administers",
    "readiness:waiver_new": "the cluster is a query parameter: checked in the test below",
    "maintenance:window_create": "the cluster is a form field: checked in the test below",
    "maintenance:checklist_start": "the cluster is a form field: checked in the test below",
    "maintenance:freeze_add": "the cluster is a form field: checked in the test below",
    "maintenance:user_calendar": "one user's token: the clusters that user sees (test below)",
    "accounts:digest": "one's own digest settings",
    "accounts:calendar_rotate": "one's own calendar token",
    "api:cluster_add": "global admins, or a team one administers (test below)",
    "maintenance:outbox": "global admins only (mail about every team)",
    "maintenance:channels": "global admins only (channels of every team)",
    "maintenance:channel_add": "global admins only",
    "maintenance:channel_test": "global admins only (a channel id)",
    "maintenance:channel_toggle": "global admins only (a channel id)",
    "maintenance:channel_delete": "global admins only (a channel id)",
    "clusters:audit": "global admins only (changes in every team)",
    "clusters:audit_csv": "global admins only",
    "clusters:audit_json": "global admins only",
    "metrics": "the metrics token sees every cluster; an API token's view is read below",
    "accounts:login": "no cluster",
    "accounts:logout": "no cluster",
    "accounts:password_change": "no cluster",
    "accounts:password_done": "no cluster",
    "accounts:password_reset": "no cluster",
    "accounts:reset_done": "no cluster",
    "accounts:password_reset_confirm": "no cluster (a user and a reset token)",
    "accounts:reset_complete": "no cluster",
    "accounts:preferences": "no cluster",
    "accounts:users": "global admins only",
    "accounts:user_create": "global admins only",
    "accounts:user_role": "global admins only (a user id)",
    "accounts:teams": "global admins only",
    "accounts:team_create": "global admins only",
    "accounts:team_member": "global admins only (a team id)",
    "accounts:token_create": "one's own tokens",
    "accounts:token_revoke": "one's own tokens (a token id)",
    "sso:start": "no cluster",
    "sso:callback": "no cluster",
    "api:api-root": "no page",
    "api:openapi-json": "the schema",
    "api:openapi-view": "the schema",
}


def test_every_route_is_either_a_cluster_route_or_a_listed_exemption():
    assert not set(CLUSTER_ROUTES) & set(NOT_CLUSTER)
    assert sorted(route_names()) == sorted({*CLUSTER_ROUTES, *NOT_CLUSTER})


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_team_a_gets_404_on_every_cluster_url_of_team_b_and_changes_nothing(client, teams, role):
    client.force_login(teams["users"][role])
    before = database()
    data = {"confirm": MARK, "note": "x", "node_id": "x", "done": "1", "evidence": "x"}
    for name, args in CLUSTER_ROUTES.items():
        url = reverse(name, args=args(teams["b"])) + QUERY.get(name, "")
        if name in API_WRITES:
            method, needed = API_WRITES[name]
            body = API_BODIES.get(name, {})
            sent = getattr(client, method)(url, body, content_type="application/json")
            expected = 403 if RANK[role] < RANK[needed] else 404  # 403: whatever the name
            assert sent.status_code == expected, (name, role, sent.status_code)
            continue
        assert client.get(url).status_code == 404, (name, role)
        if name in SHARED_PATH:
            continue  # a POST there is the write checked above with a valid body
        expected = (404, 405) if name in GET_ONLY or name.startswith("api:") else (404,)
        assert client.post(url, data).status_code in expected, (name, role)
    assert database() == before


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_team_a_uses_the_same_urls_of_its_own_cluster(client, teams, role):
    """The 404s above are about the team, not broken URLs: team A's own cluster answers."""
    client.force_login(teams["users"][role])
    for name in ("clusters:detail", "clusters:report", "maintenance:checklist",
                 "maintenance:occurrence", "api:nodes", "api:checklist"):  # fmt: skip
        url = reverse(name, args=CLUSTER_ROUTES[name](teams["a"]))
        assert client.get(url).status_code == 200, (name, role)


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode().lower()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_nothing_of_team_b_on_any_list_page_or_api_list(client, teams, role):
    """No mention of team B on the list pages; searching or filtering for B's name answers
    exactly as for a name that does not exist (the page may echo what was asked)."""
    client.force_login(teams["users"][role])
    for name in LISTS:
        for query in ("", "?show=all", "?view=week"):
            response = client.get(reverse(name) + query)
            assert response.status_code == 200, (name, query)
            assert MARK not in _body(response), (name, query, role)
        for key in ("cluster", "q"):
            asked = _body(client.get(f"{reverse(name)}?{key}={MARK}"))
            unknown = _body(client.get(f"{reverse(name)}?{key}=zebrx"))
            assert asked.count(MARK) == unknown.count("zebrx"), (name, key, role)
    assert "ant" in client.get(reverse("clusters:fleet")).text
    findings = " ".join(client.get(reverse("readiness:findings") + "?show=all").text.split())
    assert "latest evaluation of 1 cluster." in findings  # counts, too, are of team A only


def test_an_operator_of_a_cannot_waive_or_plan_in_b_but_can_in_a(client, teams):
    client.force_login(teams["users"][OPERATOR])
    b, a = teams["b"]["cluster"], teams["a"]["cluster"]
    before = database()
    waive = reverse("readiness:waiver_new")
    assert client.get(f"{waive}?cluster={MARK}&rule=images.tag-pinned").status_code == 404
    form = {"cluster": MARK, "rule": "images.tag-pinned", "reason": "r", "expires": "2099-01-01"}
    assert client.post(waive, form).status_code == 404
    window = {"cluster": b.pk, "kind": "weekly", "weekdays": ["sun"], "start_time": "03:00",
              "duration_minutes": "60", "tz": "UTC", "name": "sneaky"}  # fmt: skip
    response = client.post(reverse("maintenance:window_create"), window)
    assert response.status_code == 400 and MARK not in response.text
    run = {"cluster": b.pk, "template": "switchover", "target": "2099-01-01T10:00", "tz": "UTC"}
    response = client.post(reverse("maintenance:checklist_start"), run)
    assert response.status_code == 400 and MARK not in response.text
    assert database() == before
    response = client.post(reverse("maintenance:window_create"), {**window, "cluster": a.pk})
    assert response.status_code == 302
    assert a.maintenance_windows.filter(name="sneaky").exists()


def test_a_viewer_of_a_cannot_waive_in_a(client, teams):
    client.force_login(teams["users"][VIEWER])
    url = reverse("readiness:waiver_new") + "?cluster=ant&rule=images.tag-pinned"
    assert client.get(url).status_code == 403


def test_the_metrics_scoped_to_an_api_token_show_only_the_team(client, teams):
    user = teams["users"][VIEWER]
    _, secret = account_services.token_create(user=user, scope="read", now=timezone.now())
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {secret}").text
    assert 'cluster="ant"' in text
    assert MARK not in text
    assert "watchkeeper_reminders" not in text  # fleet-wide counts are not in the scoped view


def test_the_api_with_a_token_of_team_a_sees_nothing_of_b(client, teams):
    user = teams["users"][ADMIN]
    _, secret = account_services.token_create(user=user, scope="admin", now=timezone.now())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert [c["name"] for c in client.get("/api/v1/clusters", **auth).json()] == ["ant"]
    assert client.get(f"/api/v1/clusters/{MARK}/nodes", **auth).status_code == 404
    assert client.get("/api/v1/clusters/ant/nodes", **auth).status_code == 200
    findings = client.get("/api/v1/findings?show=all", **auth).json()["items"]
    assert findings and {item["cluster"] for item in findings} == {"ant"}


def test_a_global_admin_sees_both_teams(client, teams, admin_user):
    client.force_login(admin_user)
    fleet = client.get(reverse("clusters:fleet")).text
    assert "ant" in fleet and MARK in fleet
    findings = " ".join(client.get(reverse("readiness:findings") + "?show=all").text.split())
    assert "latest evaluation of 2 clusters." in findings
    assert client.get(reverse("clusters:detail", args=[MARK])).status_code == 200


def test_a_user_leaving_team_b_loses_it_at_once(client, teams):
    b_operator = teams["team_b"].memberships.get().user
    alpha = Team.objects.get(name="alpha")
    team_services.membership_set(team=alpha, user=b_operator, role=VIEWER)
    client.force_login(b_operator)
    url = reverse("clusters:detail", args=[MARK])
    assert client.get(url).status_code == 200
    team_services.membership_set(team=teams["team_b"], user=b_operator, role=None)
    assert client.get(url).status_code == 404
    team_services.membership_set(team=alpha, user=b_operator, role=None)
    assert client.get(url).status_code == 403  # no role left anywhere: no page at all


def test_freezes_of_b_are_unseen_and_all_cluster_ones_are_global_admins(client, teams):
    client.force_login(teams["users"][ADMIN])
    a, b = teams["a"]["cluster"], teams["b"]["cluster"]
    before = database()
    url = reverse("maintenance:freeze_add")
    sent = {"name": "stop", "first_day": "2099-01-01", "last_day": "2099-01-02"}
    response = client.post(url, {**sent, "cluster": b.pk})
    assert response.status_code == 400 and MARK not in response.text
    response = client.post(url, {**sent, "cluster": ""})  # all clusters: global admins only
    assert response.status_code == 403
    assert database() == before
    assert client.post(url, {**sent, "cluster": a.pk}).status_code == 302
    page = client.get(reverse("maintenance:freezes")).text
    assert "stop" in page and "All clusters</option>" not in page


def test_an_all_cluster_freeze_is_seen_by_every_team_and_deleted_by_global_admins(
    client, teams, admin_user
):
    client.force_login(admin_user)
    url = reverse("maintenance:freeze_add")
    sent = {"name": "year end", "first_day": "2099-06-01", "last_day": "", "cluster": ""}
    assert client.post(url, sent).status_code == 302
    freeze = Freeze.objects.get(name="year end")
    client.force_login(teams["users"][OPERATOR])
    page = client.get(reverse("maintenance:freezes")).text
    assert "year end" in page and reverse("maintenance:freeze_delete", args=[freeze.pk]) not in page
    response = client.post(reverse("maintenance:freeze_delete", args=[freeze.pk]))
    assert response.status_code == 403 and Freeze.objects.filter(pk=freeze.pk).exists()
    client.force_login(admin_user)
    assert client.post(reverse("maintenance:freeze_delete", args=[freeze.pk])).status_code == 302


def test_a_users_calendar_of_team_a_holds_nothing_of_b(client, teams):
    user = teams["users"][VIEWER]
    token = account_services.profile_calendar_token_rotate(user=user)
    body = client.get(reverse("maintenance:user_calendar", args=[token])).content.decode()
    assert "ant-weekly" in body and MARK not in body


def test_an_api_cluster_add_by_a_team_admin_is_refused(client, teams):
    user = teams["users"][ADMIN]
    _, secret = account_services.token_create(user=user, scope="admin", now=timezone.now())
    response = client.post(
        "/api/v1/clusters",
        {"name": "sneaky", "url": "unix:///run/docker.sock"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 403
    assert [c.name for c in Cluster.objects.order_by("name")] == ["ant", MARK]
