"""The REST API: each endpoint with each role and each token scope, the error codes, the
contract shapes, the OpenAPI document, and no TLS material in any response."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from openapi_spec_validator import validate

from accounts import services as account_services
from accounts.roles import ADMIN, OPERATOR, VIEWER
from api.views import api
from maintenance.models import ChecklistRun
from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/clusters",
    "/api/v1/clusters/lab/report",
    "/api/v1/clusters/lab/evaluations?since=2000-01-01T00:00:00Z",
    "/api/v1/findings",
    "/api/v1/clusters/lab/nodes",
    "/api/v1/clusters/lab/services",
    "/api/v1/clusters/lab/windows",
    "/api/v1/clusters/lab/occurrences?from=2026-12-01&to=2026-12-31",
    "/api/v1/clusters/lab/backups",
    "/api/v1/clusters/lab/checklists",
    "/api/v1/checklists/{run}",
    "/api/v1/reminders",
]


def _url(template: str) -> str:
    run = ChecklistRun.objects.first()
    return template.replace("{run}", str(run.pk if run else 0))


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.mark.parametrize("url", READS)
def test_anonymous_callers_get_401_json(client, polled, url):
    response = client.get(_url(url))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_every_role_reads_every_endpoint_with_its_session(client, polled, people, role, url):
    client.force_login(people[role])
    response = client.get(_url(url))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("scope", ["read", "operate", "admin"])
def test_a_token_of_every_scope_reads_every_endpoint(client, polled, people, scope, url):
    secret = token_for(people[ADMIN], scope)
    response = client.get(_url(url), **bearer(secret))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("url", READS)
def test_a_user_without_a_role_gets_403(client, polled, django_user_model, url):
    from tests.conftest import make_user

    client.force_login(make_user(django_user_model, "nobody", None))
    response = client.get(_url(url))
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"


def test_a_token_loses_what_its_user_loses(client, polled, people):
    secret = token_for(people[ADMIN], "admin")
    account_services.user_set_role(user=people[ADMIN], role=None)
    response = client.get("/api/v1/clusters", **bearer(secret))
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"


def test_a_token_cannot_be_made_above_its_users_role(people):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        account_services.token_create(user=people[VIEWER], scope="operate", now=timezone.now())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("revoke", "token_revoked"),
        ("expire", "token_expired"),
        ("garble", "token_invalid"),
    ],
)
def test_bad_tokens_get_401_with_their_code(client, polled, people, change, code):
    token, secret = account_services.token_create(
        user=people[VIEWER], scope="read", days=1, now=timezone.now()
    )
    if change == "revoke":
        account_services.token_revoke(token=token, now=timezone.now())
    elif change == "expire":
        token.expires_at = timezone.now() - timedelta(seconds=1)
        token.save()
    else:
        secret = secret[:-2] + "xx"
    response = client.get("/api/v1/clusters", **bearer(secret))
    assert response.status_code == 401
    assert response.json()["code"] == code


def test_only_the_digest_is_stored_and_last_use_is_recorded(client, polled, people):
    token, secret = account_services.token_create(
        user=people[VIEWER], scope="read", now=timezone.now()
    )
    assert secret not in {token.digest, token.prefix} and token.prefix == secret[:11]
    assert client.get("/api/v1/clusters", **bearer(secret)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_rate_limit_answers_429_with_retry_after(client, polled, people, settings):
    settings.WATCHKEEPER_API_RATE_LIMIT = 3
    secret = token_for(people[VIEWER], "read")
    codes = [client.get("/api/v1/clusters", **bearer(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/clusters", **bearer(secret))
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1


def test_unknown_cluster_404_and_bad_parameters_422(client, polled, people):
    client.force_login(people[VIEWER])
    response = client.get("/api/v1/clusters/nope/report")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    for url in (
        "/api/v1/findings?severity=bogus",
        "/api/v1/findings?cursor=!!",
        "/api/v1/clusters/lab/occurrences?from=2026-12-31&to=2026-12-01",
        "/api/v1/clusters/lab/occurrences?from=yesterday&to=2026-12-01",
        "/api/v1/reminders?limit=0",
    ):
        response = client.get(url)
        assert response.status_code == 422, url
        assert response.json()["code"] == "validation_error", url


def test_the_cluster_list_is_the_cli_json(client, polled, people):
    out = io.StringIO()
    call_command("cluster", "list", "--format", "json", stdout=out)
    client.force_login(people[VIEWER])
    assert client.get("/api/v1/clusters").json() == json.loads(out.getvalue())


def test_the_report_is_the_cli_json(client, polled, people):
    out = io.StringIO()
    call_command("readiness", "report", "lab", "--format", "json", stdout=out)
    client.force_login(people[VIEWER])
    api_report = client.get("/api/v1/clusters/lab/report").json()
    cli_report = json.loads(out.getvalue())
    api_report.pop("evaluated_at"), cli_report.pop("evaluated_at")
    assert api_report == cli_report


def test_findings_page_by_cursor_through_every_failure(client, polled, people):
    client.force_login(people[VIEWER])
    everything = client.get("/api/v1/findings?limit=500").json()
    assert everything["next_cursor"] is None and everything["items"]
    seen, url = [], "/api/v1/findings?limit=3"
    while url:
        page = client.get(url).json()
        seen += page["items"]
        url = page["next_cursor"] and f"/api/v1/findings?limit=3&cursor={page['next_cursor']}"
    assert seen == everything["items"]
    critical = client.get("/api/v1/findings?severity=critical").json()["items"]
    assert critical and all(item["severity"] == "critical" for item in critical)


def test_no_line_of_the_tls_material_is_in_any_response(client, polled, people, tls_pems):
    client.force_login(people[ADMIN])
    lines = {
        line
        for pem in tls_pems.values()
        for line in pem.splitlines()
        if line and "-----" not in line
    }
    for url in READS:
        body = client.get(_url(url)).content.decode()
        assert not [line for line in lines if line in body], url


def test_the_openapi_document_validates_and_matches_the_routes(client, people):
    client.force_login(people[VIEWER])
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routed = {
        (f"/api/v1{route}".replace("<", "{").replace(">", "}"), method.lower())
        for router_prefix, router in api._routers
        for route, view in router.path_operations.items()
        for op in view.operations
        for method in op.methods
    }
    assert documented == routed


def test_the_docs_page_loads_no_asset_from_elsewhere(client, people):
    client.force_login(people[VIEWER])
    html = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html


def test_a_session_post_needs_the_csrf_token(polled, people):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people[VIEWER])
    response = strict.post("/api/v1/clusters")
    assert response.status_code in (403, 405)


def test_a_node_in_the_swarm_was_last_seen_by_the_last_good_poll(client, polled, people):
    """Live nodes are not rewritten by every poll (clusters.persistence): the API answers with
    the cluster's last good poll for them, not the time their row was last written."""
    from dashboard import pipeline
    from tests.clusters.conftest import fetcher, load_raw, recorded_now

    raw = load_raw("lab_poll1")
    later = recorded_now(raw) + timedelta(minutes=5)
    pipeline.cluster_poll(cluster=polled, now=later, fetch=fetcher(raw))
    client.force_login(people[VIEWER])
    nodes = client.get("/api/v1/clusters/lab/nodes").json()
    seen = {n["last_seen_at"] for n in nodes}
    assert nodes and seen == {later.isoformat().replace("+00:00", "Z")}
