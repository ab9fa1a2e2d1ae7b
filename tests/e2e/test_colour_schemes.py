"""The dark colour scheme (system preference) and the print stylesheet, in the browser."""

import pytest

from clusters.models import Cluster
from dashboard import pipeline
from tests.clusters.conftest import fetcher, load_raw

from .conftest import SCREENSHOTS, login

PAGES = {
    "fleet": "/",
    "cluster": "/clusters/lab/",
    "findings": "/readiness/findings/",
    "maintenance": "/maintenance/?view=month",
}


def luminance(css_colour: str) -> float:
    """Relative brightness (0 black .. 1 white) of an ``rgb(r, g, b)`` computed colour."""
    r, g, b = (int(part) for part in css_colour.split("(")[1].split(")")[0].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.fixture
def polled(db):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    assert pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    return cluster


def background(page, selector: str) -> float:
    return luminance(page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor"))


def test_it_follows_the_system_dark_scheme_on_every_page_type(page, viewer, polled):
    login(page, viewer)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, url in PAGES.items():
            page.goto(url)
            suffix = "" if scheme == "light" else "-dark"
            page.screenshot(path=str(SCREENSHOTS / f"scheme-{name}{suffix}.png"), full_page=True)
            page.screenshot(path=str(SCREENSHOTS / f"scheme-{name}{suffix}-top.png"))
            body = background(page, "body")
            assert body < 0.2 if scheme == "dark" else body > 0.8, (scheme, name)
    page.emulate_media(color_scheme="dark")
    page.goto("/clusters/lab/")
    assert background(page, ".card") < 0.2
    text = page.eval_on_selector("body", "e => getComputedStyle(e).color")
    assert luminance(text) > 0.8


def test_it_prints_the_cluster_page_without_nav_forms_or_a_dark_background(page, viewer, polled):
    login(page, viewer)
    page.emulate_media(color_scheme="dark", media="print")
    page.goto("/clusters/lab/")
    assert not page.locator("header.topbar").is_visible()
    assert not page.locator("nav.mainnav").is_visible()
    assert page.locator("form").count() == 0 or not page.locator("form").first.is_visible()
    assert background(page, "body") > 0.9
    closed = page.locator("details:not([open])")
    if closed.count():  # collapsed sections print expanded
        inner = closed.first.locator(":scope > :not(summary)").first
        assert inner.is_visible()
    page.pdf(path=str(SCREENSHOTS / "cluster-print.pdf"))
