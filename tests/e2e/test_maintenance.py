"""Maintenance in the browser: create a window and see it; tick a checklist step."""

from datetime import timedelta

from django.utils import timezone

from clusters.models import Cluster
from maintenance.services import checklists as checklist_services

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
