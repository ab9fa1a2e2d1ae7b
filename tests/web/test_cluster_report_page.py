"""The printable report page: the readiness report of the cluster's latest poll, escaped."""

import pytest

from clusters.models import Cluster
from tests.readiness.test_waivers_page import polled

pytestmark = pytest.mark.django_db


def test_report_page_says_so_before_a_good_poll(client, viewer):
    Cluster.objects.create(name="lab", url="unix:///var/run/docker.sock")
    client.force_login(viewer)
    response = client.get("/clusters/lab/report/")
    assert response.status_code == 200
    assert b'id="report-none"' in response.content


def test_report_page_404_for_an_unknown_cluster(client, viewer):
    client.force_login(viewer)
    assert client.get("/clusters/nope/report/").status_code == 404


def test_report_page_shows_the_latest_polls_report(client, viewer):
    polled("lab")
    client.force_login(viewer)
    response = client.get("/clusters/lab/report/")
    assert response.status_code == 200
    text = response.context["report_text"]
    assert text and "lab" in text
    assert b'id="report-text"' in response.content
    assert b"images.tag-pinned" in response.content
