"""Every URL of the product, by role: sign-in first, then the role each one needs.

The table below must name every route: a new page or action cannot ship without saying who
may use it. Anyone below the route's role gets 403 on GET and POST and the database does not
change (every row of every table compared); anonymous visitors are sent to the login page.
"""

from datetime import date, time, timedelta

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Profile
from accounts.roles import ADMIN, OPERATOR, RANK, VIEWER
from clusters.models import Cluster
from maintenance.models import Occurrence, Reminder
from maintenance.services import backups as backup_services
from maintenance.services import channels as channel_services
from maintenance.services import checklists as checklist_services
from maintenance.services import freezes as freeze_services
from maintenance.services import windows as window_services
from readiness import services as readiness
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # no sign-in (the login and reset pages, the token-protected calendar)
SIGNED_IN = "signed-in"  # any account, even one without a role (its own settings, sign-out)
OWN_AUTH = "own-auth"  # the REST API and /metrics: 401 without credentials, never a redirect
# (each API operation with every role and token scope: tests/api/test_api.py)

# route name -> (role needed, URL arguments from the objects made by `world`)
ROUTES = {
    "clusters:fleet": (VIEWER, lambda w: []),
    "clusters:new": (ADMIN, lambda w: []),
    "clusters:audit": (ADMIN, lambda w: []),
    "clusters:audit_csv": (ADMIN, lambda w: []),
    "clusters:audit_json": (ADMIN, lambda w: []),
    "clusters:detail": (VIEWER, lambda w: ["lab"]),
    "clusters:settings": (ADMIN, lambda w: ["lab"]),
    "clusters:calendar_token_rotate": (ADMIN, lambda w: ["lab"]),
    "clusters:delete": (ADMIN, lambda w: ["lab"]),
    "clusters:report": (VIEWER, lambda w: ["lab"]),
    "clusters:poll_now": (OPERATOR, lambda w: ["lab"]),
    "clusters:poll_status": (OPERATOR, lambda w: ["lab"]),
    "readiness:findings": (VIEWER, lambda w: []),
    "readiness:findings_csv": (VIEWER, lambda w: []),
    "readiness:waivers": (VIEWER, lambda w: []),
    "readiness:waiver_new": (OPERATOR, lambda w: []),
    "readiness:waiver_revoke": (OPERATOR, lambda w: [w["waiver"].pk]),
    "maintenance:overview": (VIEWER, lambda w: []),
    "maintenance:window_create": (OPERATOR, lambda w: []),
    "maintenance:occurrence": (VIEWER, lambda w: [w["occurrence"].pk]),
    "maintenance:occurrence_confirm": (OPERATOR, lambda w: [w["occurrence"].pk]),
    "maintenance:occurrence_cancel": (OPERATOR, lambda w: [w["occurrence"].pk]),
    "maintenance:occurrence_restore": (OPERATOR, lambda w: [w["occurrence"].pk]),
    "maintenance:window": (VIEWER, lambda w: [w["window"].pk]),
    "maintenance:window_edit": (OPERATOR, lambda w: [w["window"].pk]),
    "maintenance:window_delete": (OPERATOR, lambda w: [w["window"].pk]),
    "maintenance:freezes": (VIEWER, lambda w: []),
    "maintenance:freeze_add": (OPERATOR, lambda w: []),
    "maintenance:freeze_delete": (OPERATOR, lambda w: [w["freeze"].pk]),
    "maintenance:backups": (VIEWER, lambda w: []),
    "maintenance:backup_validate": (OPERATOR, lambda w: [w["backup"].pk]),
    "maintenance:checklists": (VIEWER, lambda w: []),
    "maintenance:checklist_start": (OPERATOR, lambda w: []),
    "maintenance:checklist": (VIEWER, lambda w: [w["run"].pk]),
    "maintenance:step_tick": (OPERATOR, lambda w: [w["run"].steps.first().pk]),
    "maintenance:reminders": (VIEWER, lambda w: []),
    "maintenance:reminder_retry": (OPERATOR, lambda w: [w["reminder"].pk]),
    "maintenance:outbox": (ADMIN, lambda w: []),  # global admins: mail of every team
    "maintenance:channels": (ADMIN, lambda w: []),
    "maintenance:channel_add": (ADMIN, lambda w: []),
    "maintenance:channel_test": (ADMIN, lambda w: [w["channel"].pk]),
    "maintenance:channel_toggle": (ADMIN, lambda w: [w["channel"].pk]),
    "maintenance:channel_delete": (ADMIN, lambda w: [w["channel"].pk]),
    "maintenance:calendar": (PUBLIC, lambda w: [w["cluster"].calendar_token]),
    "maintenance:user_calendar": (PUBLIC, lambda w: [w["viewer_profile"].calendar_token]),
    "accounts:login": (PUBLIC, lambda w: []),
    "accounts:logout": (SIGNED_IN, lambda w: []),
    "accounts:password_change": (SIGNED_IN, lambda w: []),
    "accounts:password_done": (SIGNED_IN, lambda w: []),
    "accounts:password_reset": (PUBLIC, lambda w: []),
    "accounts:reset_done": (PUBLIC, lambda w: []),
    "accounts:password_reset_confirm": (PUBLIC, lambda w: ["MQ", "set-password"]),
    "accounts:reset_complete": (PUBLIC, lambda w: []),
    "accounts:preferences": (SIGNED_IN, lambda w: []),
    "accounts:users": (ADMIN, lambda w: []),
    "accounts:user_create": (ADMIN, lambda w: []),
    "accounts:user_role": (ADMIN, lambda w: [w["viewer"].pk]),
    "accounts:teams": (ADMIN, lambda w: []),  # global admins
    "accounts:team_create": (ADMIN, lambda w: []),
    "accounts:team_member": (ADMIN, lambda w: [w["cluster"].team_id]),
    "sso:start": (PUBLIC, lambda w: []),  # 404 while single sign-on is not configured
    "sso:callback": (PUBLIC, lambda w: []),
    "accounts:digest": (SIGNED_IN, lambda w: []),
    "accounts:calendar_rotate": (SIGNED_IN, lambda w: []),
    "accounts:token_create": (SIGNED_IN, lambda w: []),
    "accounts:token_revoke": (SIGNED_IN, lambda w: [1]),
    "api:openapi-json": (SIGNED_IN, lambda w: []),
    "api:openapi-view": (SIGNED_IN, lambda w: []),
    "api:api-root": (OWN_AUTH, lambda w: []),
    "api:clusters": (OWN_AUTH, lambda w: []),
    "api:cluster_report": (OWN_AUTH, lambda w: ["lab"]),
    "api:cluster_evaluations": (OWN_AUTH, lambda w: ["lab"]),
    "api:findings": (OWN_AUTH, lambda w: []),
    "api:nodes": (OWN_AUTH, lambda w: ["lab"]),
    "api:services": (OWN_AUTH, lambda w: ["lab"]),
    "api:windows": (OWN_AUTH, lambda w: ["lab"]),
    "api:occurrences": (OWN_AUTH, lambda w: ["lab"]),
    "api:backups": (OWN_AUTH, lambda w: ["lab"]),
    "api:checklists": (OWN_AUTH, lambda w: ["lab"]),
    "api:checklist": (OWN_AUTH, lambda w: [w["run"].pk]),
    "api:reminders": (OWN_AUTH, lambda w: []),
    "api:cluster_add": (OWN_AUTH, lambda w: []),
    "api:cluster_update": (OWN_AUTH, lambda w: ["lab"]),
    "api:cluster_delete": (OWN_AUTH, lambda w: ["lab"]),
    "api:poll_request": (OWN_AUTH, lambda w: ["lab"]),
    "api:poll_status": (OWN_AUTH, lambda w: ["lab", 1]),
    "api:waiver_create": (OWN_AUTH, lambda w: ["lab"]),
    "api:waiver_revoke": (OWN_AUTH, lambda w: [w["waiver"].pk]),
    "api:window_create": (OWN_AUTH, lambda w: ["lab"]),
    "api:window_update": (OWN_AUTH, lambda w: [w["occurrence"].window_id]),
    "api:occurrence_cancel": (OWN_AUTH, lambda w: [w["occurrence"].pk]),
    "api:reboot_confirm": (OWN_AUTH, lambda w: [w["occurrence"].pk]),
    "api:backup_validation": (OWN_AUTH, lambda w: [w["backup"].pk]),
    "api:checklist_start": (OWN_AUTH, lambda w: ["lab"]),
    "api:step_mark": (OWN_AUTH, lambda w: [w["run"].pk, w["run"].steps.first().pk]),
    "metrics": (OWN_AUTH, lambda w: []),
}
GUARDED = {name: spec for name, spec in ROUTES.items() if spec[0] in RANK}


def route_names(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django's own admin site: staff only, tested in test_settings_pages
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from route_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name


@pytest.fixture
def world(django_user_model):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    now = timezone.now()
    owner = make_user(django_user_model, "owen", OPERATOR)
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(2, 30), duration_minutes=60,
        tz="Europe/Berlin", name="weekly", now=now,
    )  # fmt: skip
    return {
        "cluster": cluster,
        "window": window,
        "freeze": freeze_services.freeze_add(
            name="year end",
            first_day=date(2099, 12, 20),
            last_day=date(2099, 12, 31),
            now=now,
            cluster=cluster,  # one cluster's: its operators delete it (all: global admins)
        )[0],
        "reminder": Reminder.objects.create(
            cluster=cluster,
            kind="grade_drop",
            subject_key="g",
            recipient="a@example.org",
            title="t",
            body="b",
            due_at=now,
            next_attempt_at=now,
            dedup_key="g",
            message_id="<g@x>",
            status="failed",
            created_at=now,
        ),  # fmt: skip
        "occurrence": Occurrence.objects.first(),
        "backup": backup_services.backup_create(
            cluster=cluster, name="orders", interval_days=60, now=now
        ),
        "run": checklist_services.checklist_start(
            cluster=cluster,
            template="switchover",
            tz="UTC",
            now=now,
            target=(now + timedelta(days=3)).replace(tzinfo=None),
        ),  # fmt: skip
        "waiver": readiness.waiver_create(
            cluster=cluster,
            rule="images.tag-pinned",
            reason="r",
            owner=owner,
            expires_at=now + timedelta(days=3),
            created_by=owner,
            now=now,
        ),  # fmt: skip
        "viewer": (viewer := make_user(django_user_model, "vic", VIEWER)),
        "viewer_profile": Profile.objects.create(user=viewer),
        "channel": channel_services.channel_create(
            name="ops", kind="webhook", url="http://127.0.0.1:9/hook", now=now
        ),
    }


def database():
    """Every row of every table of the project and of Django's auth (sessions and the time of
    the last sign-in left out: signing the test users in changes those)."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in ("clusters", "readiness", "maintenance", "accounts", "auth"):
            fields = [f.attname for f in model._meta.concrete_fields if f.name != "last_login"]
            rows[model._meta.label] = sorted(map(repr, model.objects.values_list(*fields)))
    return rows


def test_the_table_names_every_route():
    assert sorted(route_names()) == sorted(ROUTES)


@pytest.mark.parametrize("name", sorted(n for n, spec in ROUTES.items() if spec[0] == OWN_AUTH))
def test_anonymous_callers_of_the_api_and_metrics_get_401_and_change_nothing(
    client, world, name, settings
):
    settings.WATCHKEEPER_METRICS_TOKEN = "a-metrics-token"
    url = reverse(name, args=ROUTES[name][1](world))
    before = database()
    expected = 404 if name == "api:api-root" else 401  # ninja's prefix: no page of its own
    methods = (client.get, client.post, client.patch, client.delete)
    codes = [send(url).status_code for send in methods]
    assert set(codes) <= {expected, 405} and expected in codes, name  # 405: another method
    assert database() == before


@pytest.mark.parametrize(
    "name", sorted(n for n, spec in ROUTES.items() if spec[0] not in (PUBLIC, OWN_AUTH))
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, world, name):
    url = reverse(name, args=ROUTES[name][1](world))
    before = database()
    for response in (client.get(url), client.post(url, {"name": "x", "confirm": "lab"})):
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name
    assert database() == before


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_every_role_below_the_one_needed_gets_403_and_changes_nothing(
    client, world, name, django_user_model
):
    needed, args = GUARDED[name]
    url = reverse(name, args=args(world))
    below = [
        make_user(django_user_model, f"user-{role}", role)
        for role, rank in RANK.items()
        if rank < RANK[needed]
    ]
    before = database()
    for user in below:
        client.force_login(user)
        role = user.username
        data = {"name": "x", "confirm": "lab", "role": "admin", "note": "x", "cluster": "lab"}
        assert client.get(url).status_code == 403, (name, role)
        assert client.post(url, data).status_code == 403, (name, role)
    assert database() == before


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_the_role_needed_gets_in(client, world, name, django_user_model):
    needed, args = GUARDED[name]
    client.force_login(make_user(django_user_model, f"user-{needed}", needed))
    url = reverse(name, args=args(world))
    if name == "readiness:waiver_new":
        url += "?cluster=lab&rule=images.tag-pinned"
    status = client.get(url).status_code
    assert status in (200, 286, 405), (name, status)  # 405: an action (POST only); 286: htmx
