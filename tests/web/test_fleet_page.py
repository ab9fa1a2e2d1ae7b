"""The fleet page: every cluster with its state; filters; htmx refresh; query counts."""

import pytest

from clusters.models import Cluster


@pytest.fixture
def clusters(db):
    return [
        Cluster.objects.create(name="prod-a", url="unix:///a.sock", environment="production"),
        Cluster.objects.create(name="stage-b", url="unix:///b.sock", environment="staging"),
    ]


def test_it_lists_every_cluster(client, viewer, clusters):
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "prod-a" in body and "stage-b" in body
    assert "<svg" in body


def test_it_refuses_an_account_without_a_role(client, nobody, clusters):
    client.force_login(nobody)
    assert client.get("/").status_code == 403


def test_it_sends_anonymous_users_to_the_login_page(client, clusters):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_filters_by_environment(client, viewer, clusters):
    client.force_login(viewer)
    body = client.get("/", {"environment": "staging"}).content.decode()
    assert "stage-b" in body and "prod-a" not in body


def test_it_filters_by_grade_none(client, viewer, clusters):
    client.force_login(viewer)
    body = client.get("/", {"grade": "A"}).content.decode()
    assert "No cluster matches" in body


def test_it_renders_only_the_table_for_htmx_with_vary(client, viewer, clusters):
    client.force_login(viewer)
    response = client.get("/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="fleet-table"')
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]
    assert 'hx-trigger="every 30s"' in body


def test_it_never_shows_credentials_or_the_calendar_token(client, viewer, clusters):
    cluster = clusters[0]
    cluster.set_credentials('{"key": "-----BEGIN PRIVATE KEY----- sekrit"}')
    cluster.save()
    client.force_login(viewer)
    body = client.get("/").content.decode()
    assert "sekrit" not in body and cluster.calendar_token not in body
    assert cluster.credentials_encrypted not in body


def test_its_query_count_does_not_grow_with_clusters(client, viewer, django_assert_max_num_queries):
    client.force_login(viewer)
    for i in range(3):
        Cluster.objects.create(name=f"c{i}", url="unix:///x.sock")
    with django_assert_max_num_queries(12) as few:
        client.get("/")
    for i in range(3, 30):
        Cluster.objects.create(name=f"c{i}", url="unix:///x.sock")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/").status_code == 200
