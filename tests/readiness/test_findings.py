"""The findings page lists failing checks, escaped, in a fixed number of queries."""

from unittest import mock

import pytest
from django.urls import reverse

from clusters.models import Cluster
from dashboard import pipeline

from .factories import NOW, service, snapshot

pytestmark = pytest.mark.django_db


def test_it_lists_failing_checks_escaped(client, viewer, django_assert_max_num_queries):
    for name in ("lab", "prod"):
        cluster = Cluster.objects.create(name=name, url="unix:///var/run/docker.sock")
        with mock.patch("maintenance.services.reminders.notifications_enqueue"):
            pipeline.evaluation_run(
                cluster=cluster,
                snapshot=snapshot(services=[service("<b>api</b>", image="api:latest")]),
                now=NOW,
            )
    client.force_login(viewer)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("readiness:findings"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "images.tag-pinned" in body
    assert "&lt;b&gt;api&lt;/b&gt;" in body and "<b>api</b>" not in body
