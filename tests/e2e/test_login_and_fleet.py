"""Sign in and see the fleet."""

from clusters.models import Cluster

from .conftest import login, screenshot


def test_it_signs_in_and_shows_the_fleet(page, viewer):
    Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    page.goto("/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    login(page, viewer)
    row = page.locator("tr.fleet-row[data-cluster=lab]")
    assert row.locator(".cluster-name").inner_text() == "lab"
    screenshot(page, "fleet")


def test_it_refuses_a_wrong_password(page, viewer):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", viewer.username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
