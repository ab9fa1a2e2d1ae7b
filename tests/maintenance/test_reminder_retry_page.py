"""The reminders log: next attempt, "retry now" for operators; the fleet page's banner."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from maintenance.models import Reminder
from maintenance.services import reminders


@pytest.fixture
def failed(db):
    from clusters.models import Cluster

    cluster = Cluster.objects.create(name="prod", url="tcp://127.0.0.1:9")
    cluster.recipients.create(email="oncall@example.org")
    now = timezone.now()
    reminders.notification_enqueue(
        cluster=cluster, kind="critical_finding", subject_key="f", title="finding",
        body="b", now=now,
    )  # fmt: skip
    row = Reminder.objects.get()
    Reminder.objects.filter(pk=row.pk).update(
        status="failed", attempts=8, last_error="SMTPRecipientsRefused: 550 no such user"
    )
    return row


def test_the_log_shows_next_attempts_and_operators_retry_a_failed_reminder(
    client, operator, failed
):
    pending = Reminder.objects.create(
        cluster=failed.cluster, kind="grade_drop", subject_key="g", recipient="a@example.org",
        title="t", body="b", due_at=failed.due_at, next_attempt_at=failed.due_at + timedelta(
            minutes=4), dedup_key="g", message_id="<g@x>", attempts=2, created_at=failed.due_at,
    )  # fmt: skip
    client.force_login(operator)
    page = client.get(reverse("maintenance:reminders")).text
    assert "Retry now" in page and "none: gave up" in page
    assert pending.next_attempt_at.strftime("%Y-%m-%d") in page
    response = client.post(
        reverse("maintenance:reminder_retry", args=[failed.pk]), {"status": "failed"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?status=failed")
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 0, "")
    assert failed.history[0]["error"].startswith("SMTPRecipientsRefused")
    assert AuditEvent.objects.filter(action="reminder.retry").count() == 1
    again = client.post(reverse("maintenance:reminder_retry", args=[failed.pk]))
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="reminder.retry").count() == 1


def test_viewers_see_no_retry_button_and_cannot_retry(client, viewer, failed):
    client.force_login(viewer)
    assert "Retry now" not in client.get(reverse("maintenance:reminders")).text
    response = client.post(reverse("maintenance:reminder_retry", args=[failed.pk]))
    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_the_fleet_page_shows_delivery_trouble_only_when_there_is_some(client, viewer, failed):
    client.force_login(viewer)
    page = client.get(reverse("clusters:fleet")).text
    assert 'id="delivery-trouble"' in page and "1 reminder failed for good" in page
    assert "550 no such user" in page
    Reminder.objects.update(status="sent", last_error="")
    assert 'id="delivery-trouble"' not in client.get(reverse("clusters:fleet")).text
