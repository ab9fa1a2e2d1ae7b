"""Browser tests: Playwright's Python package driving Debian's Chromium against live_server.

No browser is ever downloaded: Chromium is /usr/bin/chromium (`make test` installs the Debian
package when root). Every test here is marked `browser`. Screenshots go to var/screenshots/.
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (fixtures, assertions) are still synchronous and single-threaded.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _role_groups(transactional_db):
    """live_server flushes the database between tests, data migrations included."""
    from django.contrib.auth.models import Group

    from accounts.roles import ROLES

    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []  # every confirm() seen; dismissed unless page.accept_dialogs is set

    def answer(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if page.accept_dialogs else dialog.dismiss()

    page.on("dialog", answer)
    page.dialogs = dialogs
    page.accept_dialogs = False
    try:
        yield page
    finally:
        context.close()


def login(page, user) -> None:
    """Sign USER in through the login form (the fixtures' password is pw-<username>)."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def screenshot(page, name: str) -> Path:
    """Write var/screenshots/NAME.png (desktop, full page) and NAME-phone.png (390 px wide)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)
    return path
