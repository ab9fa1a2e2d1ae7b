"""The API's writes: CSRF for sessions only, 422 and 409 exactly with nothing changed, the
poll id followed to its run, tool output as restore-test evidence, audit via=api, the rate
limit, and no TLS material in any answer."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from accounts.roles import ADMIN, OPERATOR
from audit.models import AuditEvent
from clusters.models import Cluster
from dashboard import pipeline
from maintenance.models import BackupValidation
from tests.api.conftest import token_for
from tests.api.test_routes import database
from tests.clusters.conftest import fetcher, load_raw
from tests.maintenance.test_restore_evidence import VELERO

pytestmark = pytest.mark.django_db

NEW_CLUSTER = {"name": "next", "url": "unix:///run/next.sock"}


@pytest.fixture(autouse=True)
def _no_poll_requests():
    cache.clear()


def post(client, url, body, method="post", **headers):
    return getattr(client, method)(
        "/api/v1" + url, json.dumps(body), content_type="application/json", **headers
    )


def test_a_session_write_needs_the_csrf_token_and_a_token_write_does_not(world, people):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people[ADMIN])
    before = database()
    response = post(strict, "/clusters", NEW_CLUSTER)
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")
    assert database() == before
    strict.get("/api/v1/clusters")  # any page sets the CSRF cookie
    strict.get("/")
    csrf = strict.cookies["csrftoken"].value
    assert post(strict, "/clusters", NEW_CLUSTER, HTTP_X_CSRFTOKEN=csrf).status_code == 201
    bearer = Client(enforce_csrf_checks=True)
    secret = token_for(people[ADMIN], "admin")
    response = post(bearer, "/clusters", {**NEW_CLUSTER, "name": "other"},
                    HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
    assert response.status_code == 201


INVALID = [
    ("/clusters", {"name": "x", "url": "http://nowhere"}, "post"),
    ("/clusters", {"name": "x", "url": "unix:///a.sock", "environment": "moon"}, "post"),
    ("/clusters", {"name": "x", "url": "unix:///a.sock", "notify": ["not-an-address"]}, "post"),
    ("/clusters", {"name": "x", "url": "unix:///a.sock", "policy": {"bogus": 1}}, "post"),
    ("/clusters", {"name": "x"}, "post"),
    ("/clusters/lab", {"url": "tcp://127.0.0.1:2376", "tls": {"ca": "not a pem"}}, "patch"),
    ("/clusters/lab/waivers", {"rule": "no.such-rule", "reason": "r", "expires": "2026-12-20"},
     "post"),
    ("/clusters/lab/waivers", {"rule": "images.tag-pinned", "reason": "r",
                               "expires": "2020-01-01"}, "post"),
    ("/clusters/lab/windows", {"rrule": "FREQ=SOMETIMES", "start_time": "03:00",
                               "duration_minutes": 60, "tz": "UTC"}, "post"),
    ("/clusters/lab/windows", {"weekdays": "sun", "start_time": "25:00",
                               "duration_minutes": 60, "tz": "UTC"}, "post"),
    ("/clusters/lab/windows", {"weekdays": "sun", "start_time": "03:00",
                               "duration_minutes": 60, "tz": "Mars/Olympus"}, "post"),
    ("/clusters/lab/windows", {"weekdays": "sun", "rrule": "FREQ=DAILY", "start_time": "03:00",
                               "duration_minutes": 60, "tz": "UTC"}, "post"),
    ("/clusters/lab/windows", {"weekdays": "sun", "start_time": "03:00",
                               "duration_minutes": "long", "tz": "UTC"}, "post"),
    ("/windows/{window}", {"duration_minutes": 2000}, "patch"),
    ("/occurrences/{occurrence}/cancel", {"reason": ""}, "post"),
    ("/occurrences/{started}/reboots", {"node_id": "nope", "note": "checked"}, "post"),
    ("/occurrences/{started}/reboots", {"node_id": "{node}", "note": " "}, "post"),
    ("/backups/{backup}/validations", {"evidence": ""}, "post"),
    ("/backups/{backup}/validations", {"source": "velero-restore", "output": ["not json"]},
     "post"),
    ("/backups/{backup}/validations", {"source": "tar", "output": ["x"]}, "post"),
    ("/clusters/lab/checklists", {"template": "nope", "target": "2027-01-10T10:00:00"}, "post"),
    ("/clusters/lab/checklists", {"template": "switchover", "target": "2027-01-10T10:00:00",
                                  "tz": "Nowhere/City"}, "post"),
    ("/clusters/lab", {"confirm": "wrong"}, "delete"),
]  # fmt: skip


def _filled(value, world):
    from tests.api.test_routes import _fill

    if isinstance(value, str):
        return _fill(value, world)
    if isinstance(value, dict):
        return {k: _filled(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("url", "body", "method"), INVALID)
def test_bad_input_is_422_with_a_message_and_changes_nothing(
    client, world, people, url, body, method
):
    client.force_login(people[ADMIN])
    before = database()
    if method == "delete":
        response = client.delete("/api/v1" + url + "?confirm=" + body["confirm"])
    else:
        response = post(client, _filled(url, world), _filled(body, world), method)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error" and response.json()["message"]
    assert database() == before


def test_conflicts_are_409_with_their_code_and_change_nothing(client, world, people):
    client.force_login(people[ADMIN])
    Cluster.objects.create(name="other", url="unix:///run/other.sock")
    revoked = post(client, f"/waivers/{world['waiver'].pk}/revoke", {})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    cancelled = post(client, f"/occurrences/{world['occurrence'].pk}/cancel", {"reason": "x"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    later = world["window"].occurrences.filter(status="scheduled").last()
    cases = [
        ("/clusters", {**NEW_CLUSTER, "name": "lab"}, "post", "name_taken"),
        ("/clusters/other", {"name": "lab"}, "patch", "name_taken"),
        ("/waivers/{waiver}/revoke", {}, "post", "already_revoked"),
        ("/occurrences/{occurrence}/cancel", {"reason": "again"}, "post", "already_cancelled"),
        ("/occurrences/{started}/cancel", {"reason": "late"}, "post", "started"),
        (f"/occurrences/{later.pk}/reboots", {"node_id": "{node}", "note": "n"}, "post",
         "not_started"),
        ("/clusters/lab/windows", {"weekdays": "mon", "start_time": "01:00",
                                   "duration_minutes": 60, "tz": "UTC", "name": "weekly"},
         "post", "name_taken"),
    ]  # fmt: skip
    for url, body, method, code in cases:
        before = database()
        response = post(client, _filled(url, world), _filled(body, world), method)
        assert (response.status_code, response.json()["code"]) == (409, code), url
        assert database() == before, url


def test_a_poll_is_followed_by_its_id_until_its_run_and_a_second_one_is_409(client, world, people):
    client.force_login(people[OPERATOR])
    asked = post(client, "/clusters/lab/polls", {})
    assert asked.status_code == 202
    poll = asked.json()
    assert poll["status"] == "queued" and poll["run"] is None
    again = post(client, "/clusters/lab/polls", {})
    assert (again.status_code, again.json()["code"]) == (409, "poll_running")
    assert again.json()["poll_id"] == poll["id"]
    url = f"/api/v1/clusters/lab/polls/{poll['id']}"
    assert client.get(url).json()["status"] == "queued"
    cluster = Cluster.objects.get(name="lab")
    pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))  # the worker
    done = client.get(url).json()
    assert done["status"] == "succeeded" and done["run"]["ok"] and done["run"]["nodes"] > 0
    assert client.get("/api/v1/clusters/lab/polls/99999999999999999").status_code == 404
    Cluster.objects.filter(pk=cluster.pk).update(enabled=False)
    off = post(client, "/clusters/lab/polls", {})
    assert (off.status_code, off.json()["code"]) == (409, "cluster_disabled")


def test_velero_output_in_the_body_is_recorded_as_the_command_records_it(client, world, people):
    with time_machine.travel(datetime(2027, 3, 1, 8, 0, tzinfo=UTC), tick=False):
        client.force_login(people[OPERATOR])
        response = post(
            client, f"/backups/{world['backup'].pk}/validations",
            {"source": "velero-restore", "output": [json.dumps(VELERO)], "max_age_hours": 24},
        )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "passed" and body["source"] == "velero-restore"
    assert body["duration_seconds"] == 270 and body["validated_by"] == "u-operator"
    validation = BackupValidation.objects.get(pk=body["id"])
    assert validation.snapshot_at == datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


def test_writes_through_a_token_are_audited_via_api_with_its_prefix(client, world, people):
    secret = token_for(people[OPERATOR], "operate")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    run, step = world["run"], world["run"].steps.first()
    post(client, f"/checklists/{run.pk}/steps/{step.pk}", {"done": True}, "patch", **headers)
    post(client, f"/occurrences/{world['occurrence'].pk}/cancel", {"reason": "freeze"}, **headers)
    post(client, f"/backups/{world['backup'].pk}/validations", {"evidence": "ok"}, **headers)
    post(client, "/clusters/lab/windows", {"once": "2027-02-01", "start_time": "02:00",
         "duration_minutes": 30, "tz": "UTC"}, **headers)  # fmt: skip
    events = AuditEvent.objects.filter(via="api").order_by("pk")
    assert [e.action for e in events] == [
        "checklist.step_tick", "occurrence.cancel", "backup.validate", "window.create",
    ]  # fmt: skip
    assert {(e.actor, e.token_prefix) for e in events} == {("u-operator", secret[:11])}


def test_a_session_write_is_audited_via_api(client, world, people):
    client.force_login(people[ADMIN])
    assert post(client, "/clusters/lab", {"environment": "staging"}, "patch").status_code == 200
    event = AuditEvent.objects.get(action="cluster.update")
    assert (event.via, event.actor, event.token_prefix) == ("api", "u-admin", "")


def test_a_rate_limited_write_changes_nothing(client, world, people, settings):
    settings.WATCHKEEPER_API_RATE_LIMIT = 1
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(people[ADMIN], 'admin')}"}
    assert post(client, "/clusters", NEW_CLUSTER, **headers).status_code == 201
    before = database()
    response = post(client, "/clusters", {**NEW_CLUSTER, "name": "two"}, **headers)
    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert database() == before


def test_no_line_of_the_tls_material_is_in_any_write_answer(client, db, people, tls_pems):
    client.force_login(people[ADMIN])
    lines = {line for pem in tls_pems.values() for line in pem.splitlines()
             if line and "-----" not in line}  # fmt: skip
    added = post(client, "/clusters", {"name": "tls", "url": "tcp://127.0.0.1:2376",
                                       "tls": tls_pems})  # fmt: skip
    assert added.status_code == 201, added.content
    assert added.json()["settings"]["credentials_stored"] == {"ca": True, "cert": True,
                                                              "key": True}  # fmt: skip
    changed = post(client, "/clusters/tls", {"tls": tls_pems, "enabled": False}, "patch")
    assert changed.status_code == 200 and changed.json()["settings"]["enabled"] is False
    bad = post(client, "/clusters", {"name": "t2", "url": "unix:///a.sock", "tls": tls_pems})
    assert bad.status_code == 422
    for response in (added, changed, bad, client.get("/api/v1/clusters")):
        body = response.content.decode()
        assert not [line for line in lines if line in body]


def test_window_edit_keeps_what_is_left_out_and_a_token_never_outranks_its_user(
    client, world, people
):
    from accounts import services as account_services

    client.force_login(people[OPERATOR])
    window = world["window"]
    response = post(client, f"/windows/{window.pk}", {"rrule": "FREQ=MONTHLY;BYDAY=1SU"}, "patch")
    assert response.status_code == 200, response.content
    assert response.json()["rrule"] == "FREQ=MONTHLY;BYDAY=1SU"
    assert response.json()["start_time"] == "02:30" and response.json()["tz"] == "Europe/Berlin"
    secret = token_for(people[ADMIN], "admin")
    account_services.user_set_role(user=people[ADMIN], role=OPERATOR)
    denied = post(client, "/clusters", NEW_CLUSTER, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (denied.status_code, denied.json()["code"]) == (403, "role_required")
    assert not Cluster.objects.filter(name="next").exists()
    step = world["run"].steps.first()
    ticked = post(client, f"/checklists/{world['run'].pk}/steps/{step.pk}",
                  {"done": True, "note": "done by api"}, "patch",
                  HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
    assert ticked.status_code == 200 and ticked.json()["done"] and ticked.json()["done_by"]
    assert timedelta(0) <= datetime.now(UTC) - datetime.fromisoformat(ticked.json()["done_at"])
