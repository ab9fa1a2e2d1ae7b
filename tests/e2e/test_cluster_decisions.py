"""The cluster page as a decision screen, in the browser at 1280x720: grade, category tiles and
the first Fix-first change visible without scrolling, light and dark; the filter and the
copyable commands work without JavaScript."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clusters.models import Cluster
from dashboard import pipeline
from readiness import services
from tests.clusters.conftest import fetcher, load_raw

from .conftest import SCREENSHOTS, login

LAPTOP = {"width": 1280, "height": 720}


@pytest.fixture
def lab(operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    assert pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    now = timezone.now()
    services.waiver_create(
        cluster=cluster, rule="operations.weekly-reboot", selector="wk-worker-*",
        reason="reboots start with the new kernel", owner=operator,
        expires_at=now + timedelta(days=30), created_by=operator, now=now - timedelta(days=2),
    )  # fmt: skip
    return cluster


def above_the_fold(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], (selector, box)
    return box


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_grade_tiles_and_the_first_fix_fit_one_laptop_screen(browser, live_server, viewer, lab,
                                                             scheme):  # fmt: skip
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP, color_scheme=scheme)
    page = context.new_page()
    try:
        login(page, viewer)
        page.goto("/clusters/lab/")
        assert page.evaluate("window.scrollY") == 0
        grade = above_the_fold(page, "#grade")
        assert page.locator("#grade").inner_text() in "ABCDF"
        above_the_fold(page, "#score")
        tiles = page.locator("#tiles a.tile")
        assert tiles.count() == 10
        for n in range(tiles.count()):
            above_the_fold(page, f"#tiles a.tile >> nth={n}")
        first = above_the_fold(page, "#fix-first li.fix")
        above_the_fold(page, "#fix-first li.fix code.cmd")
        assert grade["y"] < first["y"]
        assert page.locator("#fix-first li.fix .gain").first.inner_text().startswith("+")
        if page.locator("#cap-why").count():
            above_the_fold(page, "#cap-why")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"cluster-{scheme}.png"))
        page.screenshot(path=str(SCREENSHOTS / f"cluster-{scheme}-full.png"), full_page=True)

        # a tile leads to its category's section, open (Chromium opens a targeted <details>)
        target = tiles.first.get_attribute("href")
        tiles.first.click()
        page.wait_for_url(f"**{target}")
        section = page.locator(target)
        assert section.evaluate("e => e.open")
        assert page.evaluate("window.scrollY") > 0
    finally:
        context.close()


def test_the_copy_button_copies_the_command(browser, live_server, viewer, lab):
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        login(page, viewer)
        page.goto("/clusters/lab/")
        fix = page.locator("#fix-first li.fix").first
        button = fix.locator("button.copy")
        assert button.is_visible()
        button.click()
        page.wait_for_function("document.querySelector('#fix-first button.copy').textContent"
                               " === 'Copied'")  # fmt: skip
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == fix.locator("code.cmd").inner_text()
    finally:
        context.close()


def test_the_filter_sort_and_commands_work_without_javascript(browser, live_server, viewer, lab):
    context = browser.new_context(
        base_url=live_server.url, viewport=LAPTOP, java_script_enabled=False
    )
    page = context.new_page()
    try:
        login(page, viewer)
        page.goto("/clusters/lab/")
        assert not page.locator("#fix-first button.copy").first.is_visible()  # no clipboard
        command = page.locator("#fix-first code.cmd").first
        command.click()  # one click selects the whole command for the usual copy
        selected = page.evaluate("window.getSelection().toString()")
        assert selected.strip() == command.inner_text().strip()

        page.fill("#filter-q", "wk-worker-1")
        page.press("#filter-q", "Enter")
        page.wait_for_url("**/clusters/lab/?q=wk-worker-1*")
        names = page.locator("#findings .object-name").all_inner_texts()
        assert names and all("wk-worker-1" in name for name in names)
        hosts = page.locator("#nodes tbody tr td:first-child strong").all_inner_texts()
        assert hosts == ["wk-worker-1"]

        page.click("#nodes th a:text('Node')")
        page.wait_for_url("**sort=hostname&dir=asc*")
        assert "q=wk-worker-1" in page.url  # the filter is kept
    finally:
        context.close()
