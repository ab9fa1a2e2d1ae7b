"""Maintenance in the browser: create a window and see it; edit it and cancel one
occurrence (a viewer sees neither control); tick a checklist step."""

from datetime import time, timedelta

from django.utils import timezone

from clusters.models import Cluster
from maintenance.services import checklists as checklist_services
from maintenance.services import windows as window_services

from .conftest import login, screenshot


def test_it_creates_a_window_and_shows_it_in_the_calendar(page, operator):
    Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    login(page, operator)
    page.goto("/maintenance/?view=week")
    form = page.locator("#new-window form")
    form.locator("input[name=name]").fill("Nightly reboots")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        form.locator(f"input[name=weekdays][value={day}]").check()
    form.locator("input[name=start_time]").fill("23:30")
    form.locator("input[name=duration_minutes]").fill("45")
    form.locator("input[name=tz]").fill("Europe/Berlin")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".messages .msg-success")
    page.goto("/maintenance/?view=week")
    occurrences = page.locator("#calendar .occ", has_text="Nightly reboots")
    assert occurrences.count() >= 1
    assert "lab" in occurrences.first.inner_text()
    screenshot(page, "maintenance-week")
    page.goto("/maintenance/?view=month")
    assert page.locator("#calendar .occ", has_text="Nightly reboots").count() >= 1
    screenshot(page, "maintenance-month")
    occurrences = page.locator("#calendar .occ", has_text="Nightly reboots")
    occurrences.first.click()
    page.wait_for_selector("#plan")
    assert "Europe/Berlin" in page.inner_text("main")
    screenshot(page, "occurrence")


def test_it_ticks_a_checklist_step_with_htmx(page, operator):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    now = timezone.now()
    run = checklist_services.checklist_start(
        cluster=cluster,
        template="switchover",
        target=(now + timedelta(days=2)).replace(tzinfo=None),
        tz="UTC",
        now=now,
    )
    login(page, operator)
    page.goto(f"/maintenance/checklists/{run.pk}/")
    first = page.locator(".step").first
    step_id = first.get_attribute("id")
    assert "overdue" in (first.get_attribute("class") or "")
    url_before = page.url
    first.locator("button.tickbox").click()
    page.wait_for_selector(f"#{step_id}.done")
    assert page.url == url_before  # swapped in place, no navigation
    assert "otto" in page.locator(f"#{step_id}").inner_text()
    screenshot(page, "checklist")
    page.reload()
    assert "done" in page.locator(f"#{step_id}").get_attribute("class")
    page.goto("/maintenance/checklists/")
    screenshot(page, "checklists")


def test_an_operator_edits_a_window_and_cancels_one_occurrence_a_viewer_sees_neither(
    page, browser, live_server, operator, viewer
):
    cluster = Cluster.objects.create(name="lab", url="unix:///run/docker.sock")
    window = window_services.window_create(
        cluster=cluster, weekdays="sun", start_time=time(3, 0), duration_minutes=60,
        tz="UTC", name="Sunday reboots", now=timezone.now(),
    )  # fmt: skip
    login(page, operator)
    page.goto(f"/maintenance/windows/{window.pk}/")
    form = page.locator("#edit-window form")
    form.locator("input[name=start_time]").fill("04:30")
    form.locator("input[name=duration_minutes]").fill("45")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".messages .msg-success")
    assert "04:30 in UTC, 45 minutes" in page.inner_text("#rule")
    window.refresh_from_db()
    assert window.start_time == time(4, 30)
    target = window.occurrences.filter(start__gt=timezone.now()).order_by("start")[1]
    assert target.local_start.endswith("T04:30:00+00:00")
    screenshot(page, "maintenance-window")

    page.goto(f"/maintenance/?view=week&date={target.local_date:%Y-%m-%d}")
    item = page.locator(f"#occ-{target.pk}")
    item.locator("summary").click()
    item.locator("input[name=reason]").fill("Release day: <no reboots>")
    item.locator("button[type=submit]").click()
    page.wait_for_selector(".messages .msg-success")
    assert "week" in page.url  # back on the calendar it was cancelled from
    reason = page.locator(f"#occ-{target.pk} [data-cancelled]")
    assert reason.inner_text() == "Cancelled: Release day: <no reboots>"
    target.refresh_from_db()
    assert target.status == "cancelled"
    screenshot(page, "maintenance-cancelled")

    context = browser.new_context(base_url=live_server.url)
    other = context.new_page()
    try:
        login(other, viewer)
        other.goto(f"/maintenance/?view=week&date={target.local_date:%Y-%m-%d}")
        seen = other.locator(f"#occ-{target.pk} [data-cancelled]")
        assert seen.inner_text() == "Cancelled: Release day: <no reboots>"
        assert other.locator(".occ-action").count() == 0
        assert other.locator("#calendar form").count() == 0
        other.goto(f"/maintenance/windows/{window.pk}/")
        assert other.locator("#coming").is_visible()
        assert other.locator("#edit-window").count() == 0
        assert other.locator("#delete-window").count() == 0
        assert other.locator("form[action*=cancel], form[action*=restore]").count() == 0
    finally:
        context.close()
