"""A user makes an API token on the profile page; a plain HTTP client reads the report with it."""

import requests

from accounts.roles import VIEWER
from clusters import registration
from dashboard import pipeline
from tests.clusters.conftest import fetcher, load_raw, recorded_now
from tests.conftest import make_user
from tests.e2e.conftest import login


def test_a_token_made_on_the_profile_page_reads_the_report(page, live_server, django_user_model):
    cluster = registration.cluster_add(name="lab", url="unix:///run/lab.sock")
    raw = load_raw("lab_poll1")
    pipeline.cluster_poll(cluster=cluster, now=recorded_now(raw), fetch=fetcher(raw))
    user = make_user(django_user_model, "vera", VIEWER)
    login(page, user)
    page.goto("/accounts/preferences/")
    page.fill("#token-name", "grafana")
    page.select_option("#token-scope", "read")
    page.click("text=Create token")
    secret = page.text_content("#new-token-secret").strip()
    assert secret.startswith("wk_")
    response = requests.get(
        f"{live_server.url}/api/v1/clusters/lab/report",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["cluster"] == "lab"
    anonymous = requests.get(f"{live_server.url}/api/v1/clusters/lab/report", timeout=10)
    assert anonymous.status_code == 401
