"""The findings page filtered by htmx, and the waivers page, in the browser."""

from datetime import timedelta

from django.utils import timezone

from clusters.models import Cluster
from dashboard import pipeline
from readiness import services
from readiness.models import Waiver
from tests.clusters.conftest import fetcher, load_raw

from .conftest import login, screenshot


def polled_with_a_waiver(operator) -> Cluster:
    cluster = Cluster.objects.create(name="lab", url="unix:///run/lab.sock")
    assert pipeline.cluster_poll(cluster=cluster, fetch=fetcher(load_raw("lab_poll1")))
    now = timezone.now()
    waiver = services.waiver_create(
        cluster=cluster, rule="operations.notifications", reason="pager set up next sprint",
        owner=operator, expires_at=now + timedelta(days=3), created_by=operator, now=now,
    )  # fmt: skip
    services.waiver_create(
        cluster=cluster, rule="operations.weekly-reboot", selector="wk-worker-*",
        reason="reboots start with the new kernel", owner=operator,
        expires_at=now + timedelta(days=60), created_by=operator, now=now,
    )  # fmt: skip
    services.waiver_revoke(waiver=waiver, by=operator, now=now, note="pager works now")
    return cluster


def test_it_filters_findings_in_place_and_lists_waivers(page, operator):
    polled_with_a_waiver(operator)
    login(page, operator)
    page.goto("/readiness/findings/")
    groups = page.locator("section.rule-group")
    everything = groups.count()
    assert everything > 1
    page.select_option("select[name=severity]", "critical")
    page.wait_for_url("**/readiness/findings/?*severity=critical*")
    page.wait_for_function(f"document.querySelectorAll('section.rule-group').length < {everything}")
    severities = page.locator("section.rule-group h2 > span:first-child").all_inner_texts()
    assert severities and set(severities) == {"critical"}
    assert page.locator("select[name=severity]").input_value() == "critical"  # form kept
    screenshot(page, "findings-critical")

    page.click("nav.mainnav >> text=Waivers")
    page.wait_for_url("**/readiness/waivers/")
    rows = page.locator("#active-waivers tr.waiver-row")
    assert rows.count() == 1
    assert "expires in" in rows.first.inner_text()
    assert page.locator("#active-waivers button", has_text="Revoke").count() == 1
    page.click("#show-inactive")
    page.wait_for_selector("#inactive-waivers tr.waiver-revoked")
    assert page.url.endswith("/readiness/waivers/?show=all")
    page.locator("#inactive-waivers details.trail summary").first.click()
    assert "pager works now" in page.locator("#inactive-waivers").inner_text()
    screenshot(page, "waivers")
    assert page.dialogs == []

    # Revoking asks first: cancelled, nothing changes; confirmed, the list is swapped in place.
    active = Waiver.objects.get(revoked_at__isnull=True)
    page.fill("#active-waivers input[name=note]", "fixed the kernel")
    page.locator("#active-waivers button", has_text="Revoke").click()
    assert page.dialogs and page.dialogs[-1].startswith("Revoke this waiver?")
    assert rows.count() == 1 and Waiver.objects.get(pk=active.pk).revoked_at is None
    page.accept_dialogs = True
    page.locator("#active-waivers button", has_text="Revoke").click()
    page.wait_for_function("!document.querySelector('#active-waivers tr.waiver-row')")
    active.refresh_from_db()
    assert active.revoked_at is not None and active.revoked_by == operator
    assert "fixed the kernel" in str(active.events.values_list("detail", flat=True))
    assert page.url.endswith("/readiness/waivers/?show=all")  # still the page it was
