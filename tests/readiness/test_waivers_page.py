"""The waivers page: active waivers with expiry, the ended ones with their trail, revoking."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from clusters.models import Cluster
from dashboard import pipeline
from readiness import services
from readiness.models import Evaluation, Waiver, WaiverEvent
from tests.clusters.conftest import fetcher, load_raw

from .factories import NOW

pytestmark = pytest.mark.django_db
URL = "/readiness/waivers/"
HOSTILE = "<script>alert(1)</script>"
QUERIES = 6  # session, user, profile, role groups; active waivers, their events, ...
QUERIES_ALL = QUERIES + 3  # ... and the ended ones: count, waivers, events


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def polled(name: str = "lab") -> Cluster:
    """A cluster polled from a lab recording: a stored snapshot and an evaluation."""
    cluster = Cluster.objects.create(name=name, url="unix:///run/lab.sock")
    outcome = pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    assert outcome.run.ok
    return cluster


def waive(cluster, by, *, rule="images.tag-pinned", days=30.0, selector="", reason="tracked"):
    return services.waiver_create(
        cluster=cluster, rule=rule, selector=selector, reason=reason, owner=by,
        expires_at=NOW + timedelta(days=days), created_by=by, now=NOW - timedelta(hours=1),
    )  # fmt: skip


def test_it_lists_active_waivers_with_their_expiry(client, viewer, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    later = waive(cluster, operator, days=40, selector="web-*", reason="vendor image")
    soon = waive(cluster, operator, rule="images.digest-pinned", days=3, reason="until Friday")
    gone = waive(cluster, operator, rule="health.healthcheck", days=5, reason="revoked one")
    services.waiver_revoke(waiver=gone, by=operator, now=NOW)
    today = waive(cluster, operator, rule="rollout.replicas", days=0.5)  # 22:00, NOW is 10:00
    tomorrow = waive(cluster, operator, rule="rollout.spread", days=0.6)  # 00:24 tomorrow
    client.force_login(viewer)
    response = client.get(URL)
    assert response.status_code == 200
    rows = response.context["waivers"].active
    assert [row.waiver for row in rows] == [today, tomorrow, soon, later]  # soonest first
    assert [(row.days_left, row.expires_soon) for row in rows] == [
        (0, True), (1, True), (3, True), (40, False),
    ]  # fmt: skip
    body = response.text
    for text in ("lab", "images.tag-pinned", "web-*", "vendor image", "otto", "every object",
                 "expires in 40 days", "expires in 3 days", "expires today", "expires in 1 day<",
                 "2026-11-22 09:00 UTC"):  # fmt: skip
        assert text in body, text
    soon_row = body[body.index(f'id="waiver-{soon.pk}"') :]
    assert 'class="small expires-in state state-due_soon"' in soon_row.split("</tr>")[0]
    later_row = body[body.index(f'id="waiver-{later.pk}"') :].split("</tr>")[0]
    assert "state-due_soon" not in later_row
    assert "revoked one" not in body  # ended waivers only on request
    assert 'href="/readiness/waivers/?show=all"' in body
    assert 'href="/readiness/waivers/"' in body and ">Waivers</a>" in body  # in the nav


def test_the_toggle_shows_expired_and_revoked_waivers_with_their_trail(client, viewer, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    revoked = waive(cluster, operator, days=5, reason="revoked one")
    services.waiver_revoke(waiver=revoked, by=operator, now=NOW, note="fixed upstream")
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        expired = services.waiver_create(
            cluster=cluster, rule="health.healthcheck", reason="expired one", owner=operator,
            expires_at=NOW - timedelta(days=2), created_by=operator, now=NOW - timedelta(days=20),
        )  # fmt: skip
    pipeline.waivers_expire(now=NOW)
    client.force_login(viewer)
    response = client.get(URL, {"show": "all"})
    listing = response.context["waivers"]
    assert listing.active == [] and listing.inactive_count == 2
    assert [(row.waiver, row.state) for row in listing.inactive] == [
        (revoked, "revoked"),
        (expired, "expired"),
    ]
    body = response.text
    assert "revoked</span>" in body and "expired</span>" in body
    assert body.count("Trail (2)") == 2
    assert "created by otto" in body and "revoked by otto: fixed upstream" in body
    assert "UTC</time> expired</li>" in body  # the expiry job, no actor
    htmx = client.get(URL, {"show": "all"}, HTTP_HX_REQUEST="true")
    assert htmx.text.lstrip().startswith('<div id="waiver-list">')
    assert "HX-Request" in htmx["Vary"]


def test_an_operator_revokes_with_htmx_and_the_cluster_is_re_scored(client, operator):
    cluster = polled()
    failing = Evaluation.objects.get(cluster=cluster).checks.filter(status="fail").first()
    waiver = waive(cluster, operator, rule=failing.rule)
    from clusters.selectors import latest_snapshot

    pipeline.evaluation_run(cluster=cluster, snapshot=latest_snapshot(cluster=cluster), now=NOW)
    waived = Evaluation.objects.filter(cluster=cluster).first()
    assert waived.summary["waived"] > 0
    client.force_login(operator)
    page = client.get(URL).text
    assert f'hx-post="/readiness/waivers/{waiver.pk}/revoke/"' in page and "hx-confirm=" in page
    response = client.post(
        reverse("readiness:waiver_revoke", args=[waiver.pk]),
        {"note": "the image is pinned now"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="waiver-list">')
    assert "Revoked the waiver of" in response.text and "re-scored" in response.text
    assert "No active waiver" in response.text
    waiver.refresh_from_db()
    assert waiver.revoked_at == NOW and waiver.revoked_by == operator
    event = WaiverEvent.objects.get(waiver=waiver, action="revoked")
    assert event.detail == {"note": "the image is pinned now"}
    latest = Evaluation.objects.filter(cluster=cluster).first()
    assert latest.pk != waived.pk and latest.evaluated_at == NOW
    assert latest.summary["waived"] == 0
    assert latest.checks.filter(rule=failing.rule, status="fail").exists()


def test_revoking_without_htmx_redirects_with_a_message(client, operator):
    cluster = polled()
    waiver = waive(cluster, operator)
    before = Evaluation.objects.filter(cluster=cluster).count()
    client.force_login(operator)
    response = client.post(
        reverse("readiness:waiver_revoke", args=[waiver.pk]), {"show": "all"}, follow=True
    )
    assert response.redirect_chain == [("/readiness/waivers/?show=all", 302)]
    assert "Revoked the waiver of images.tag-pinned on lab (every object)" in response.text
    assert Evaluation.objects.filter(cluster=cluster).count() == before + 1
    again = client.post(reverse("readiness:waiver_revoke", args=[waiver.pk]), follow=True)
    assert "was already revoked" in again.text
    assert Evaluation.objects.filter(cluster=cluster).count() == before + 1  # nothing re-scored
    assert WaiverEvent.objects.filter(waiver=waiver, action="revoked").count() == 1


def test_a_too_long_note_changes_nothing_and_is_shown_again(client, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    waiver = waive(cluster, operator)
    client.force_login(operator)
    note = "n" * 501
    response = client.post(
        reverse("readiness:waiver_revoke", args=[waiver.pk]), {"note": note},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 400
    assert "at most 500 characters" in response.text and f'value="{note}"' in response.text
    waiver.refresh_from_db()
    assert waiver.revoked_at is None
    assert not WaiverEvent.objects.filter(action="revoked").exists()


def test_a_viewer_sees_no_revoke_button_and_gets_403(client, viewer, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    waiver = waive(cluster, operator)
    client.force_login(viewer)
    page = client.get(URL).text
    assert "images.tag-pinned" in page and "Revoke" not in page and "/revoke/" not in page
    url = reverse("readiness:waiver_revoke", args=[waiver.pk])
    assert client.post(url, HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(url).status_code == 403
    waiver.refresh_from_db()
    assert waiver.revoked_at is None
    client.force_login(operator)
    assert client.get(url).status_code == 405  # POST only
    assert client.post(reverse("readiness:waiver_revoke", args=[999999])).status_code == 404


def test_the_query_count_does_not_grow_with_waivers(
    client, viewer, operator, django_assert_num_queries
):
    cluster = Cluster.objects.create(name="one", url="unix:///run/lab.sock")
    waive(cluster, operator)
    services.waiver_revoke(waiver=waive(cluster, operator, days=2), by=operator, now=NOW)
    client.force_login(viewer)
    with django_assert_num_queries(QUERIES):
        client.get(URL)
    with django_assert_num_queries(QUERIES_ALL):
        client.get(URL, {"show": "all"})
    for index in range(5):
        other = Cluster.objects.create(name=f"c{index}", url="unix:///run/lab.sock")
        for days in (1, 8, 30, 90):
            waive(other, operator, days=days, selector=f"svc-{days}")
        services.waiver_revoke(waiver=waive(other, operator), by=operator, now=NOW)
    assert Waiver.objects.count() == 27
    with django_assert_num_queries(QUERIES):
        response = client.get(URL)
    assert len(response.context["waivers"].active) == 21
    with django_assert_num_queries(QUERIES_ALL):
        response = client.get(URL, {"show": "all"})
    assert len(response.context["waivers"].inactive) == 6


def test_a_hostile_reason_and_selector_render_as_text(client, viewer, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    waive(cluster, operator, selector=HOSTILE, reason=f"because {HOSTILE}")
    client.force_login(viewer)
    body = client.get(URL).text
    assert HOSTILE not in body
    assert "because &lt;script&gt;alert(1)&lt;/script&gt;" in body
