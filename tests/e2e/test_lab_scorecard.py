"""In a real browser against the real lab: the fleet, the scorecard, waiving, roles, escaping."""

import pytest

from clusters import registration
from dashboard import pipeline
from lab import ServiceSpec
from readiness.models import Evaluation

from .conftest import login, screenshot

pytestmark = [pytest.mark.lab, pytest.mark.browser]
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def lab_cluster(clean_swarm_lab):
    """The session lab with a service whose label is hostile, registered and polled."""
    lab = clean_swarm_lab
    service = lab.create_service(
        ServiceSpec(
            "e2e-hostile",
            command=["sleep", "3600"],
            replicas=1,
            labels={"note": HOSTILE},
            container_labels={"note": HOSTILE},
        )
    )
    lab.wait_converged(service, timeout=60)
    cluster = registration.cluster_add(name="lab", url=lab.docker_host)
    outcome = pipeline.cluster_poll(cluster=cluster)
    assert outcome.run.ok, outcome.run.error
    return cluster


def test_an_operator_sees_the_grade_waives_a_finding_and_the_score_changes(
    page, operator, lab_cluster
):
    evaluation = Evaluation.objects.get(cluster=lab_cluster)
    login(page, operator)
    row = page.locator("tr.fleet-row[data-cluster=lab]")
    assert row.locator(".badge").inner_text() == evaluation.grade
    screenshot(page, "fleet-lab")

    row.locator("a.cluster-name").click()
    page.wait_for_url("**/clusters/lab/")
    assert page.locator("#score").inner_text() == str(evaluation.score)
    screenshot(page, "cluster")

    before = page.locator("#score").inner_text()
    page.locator("a.waive").first.click()
    page.locator("#waive-reason").fill("known and tracked in the e2e test")
    screenshot(page, "waive-dialog")
    page.locator(".waiver-dialog button[type=submit]").click()
    page.locator(".messages").get_by_text("Waived").wait_for()
    latest = Evaluation.objects.filter(cluster=lab_cluster).first()
    assert latest.summary["waived"] > 0
    assert page.locator("#score").inner_text() == str(latest.score)
    assert (latest.score, latest.grade_capped) != (int(before), evaluation.grade_capped)
    assert page.dialogs == []


def test_a_viewer_sees_no_controls_and_gets_403_on_posts(page, viewer, lab_cluster):
    login(page, viewer)
    page.goto("/clusters/lab/")
    assert page.locator("a.waive").count() == 0
    assert page.locator("text=Poll now").count() == 0
    token = page.evaluate("document.body.getAttribute('hx-headers')")
    for url in ("/clusters/lab/poll/", "/readiness/waivers/new/"):
        form = {"cluster": "lab", "rule": "images.tag-pinned"}
        response = page.request.post(url, headers={"X-CSRFToken": token.split('"')[3]}, form=form)
        assert response.status == 403, url


def test_a_hostile_label_renders_as_text_everywhere(page, admin_user, lab_cluster):
    login(page, admin_user)
    for url in ("/", "/clusters/lab/", "/readiness/findings/"):
        page.goto(url)
        assert page.locator("script:has-text('alert(1)')").count() == 0, url
    page.goto("/clusters/lab/")
    assert HOSTILE in page.locator("#services").inner_text()
    assert page.dialogs == []
    screenshot(page, "cluster-hostile-label")
