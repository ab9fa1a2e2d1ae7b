"""The outbox: claim due reminder rows with a lease and send them over SMTP, with retries."""

from __future__ import annotations

import logging
import secrets
import smtplib
import time as monotonic_time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q

from maintenance.models import Reminder

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 20
SEND_BUDGET = timedelta(seconds=45)  # a tick runs every minute
MAX_ATTEMPTS = 8


def _claimable(now: datetime) -> Q:
    return Q(status=Reminder.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Reminder.Status.SENDING, lease_until__lt=now
    )


def reminders_claim(
    *, now: datetime, token: str, limit: int = BATCH, lease: timedelta = LEASE
) -> list[int]:
    """Claim due reminders for TOKEN with a lease: a conditional UPDATE, SKIP LOCKED on PostgreSQL.

    Rows already claimed by a live lease are never taken; rows whose lease expired (the
    claimer died) are. Returns the ids this caller now holds.
    """
    with transaction.atomic():
        candidates = list(
            Reminder.objects.filter(_claimable(now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return []
        Reminder.objects.filter(_claimable(now), id__in=candidates).update(
            status=Reminder.Status.SENDING, lease_until=now + lease, claimed_by=token
        )
    return list(
        Reminder.objects.filter(
            id__in=candidates, claimed_by=token, status=Reminder.Status.SENDING
        ).values_list("id", flat=True)
    )


def _permanent(exc: Exception) -> bool:
    """An SMTP 5xx answer: retrying will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after the n-th failed attempt, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))


@dataclass
class SendResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def reminder_send(*, reminder: Reminder, token: str, now: datetime) -> str:
    """Send one claimed reminder; 'sent', 'retry', 'failed' or 'lost' (lease taken over)."""
    renewed = Reminder.objects.filter(
        pk=reminder.pk, claimed_by=token, status=Reminder.Status.SENDING
    ).update(lease_until=now + LEASE)
    if renewed != 1:
        return "lost"
    message = EmailMessage(
        subject=reminder.title,
        body=reminder.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.recipient],
        headers={"Message-ID": reminder.message_id, "X-Watchkeeper-Kind": reminder.kind},
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        attempts = reminder.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = _permanent(exc) or attempts >= MAX_ATTEMPTS
        changes = {
            "attempts": attempts,
            "last_error": error,
            "lease_until": None,
            "claimed_by": "",
        }
        if permanent:
            changes["status"] = Reminder.Status.FAILED
        else:
            changes["status"] = Reminder.Status.PENDING
            changes["next_attempt_at"] = now + backoff(attempts)
        Reminder.objects.filter(pk=reminder.pk, claimed_by=token).update(**changes)
        log.warning(
            "reminder %s to %s: %s (%s)",
            reminder.pk,
            reminder.recipient,
            error,
            "permanent" if permanent else "will retry",
        )
        return "failed" if permanent else "retry"
    Reminder.objects.filter(pk=reminder.pk, claimed_by=token).update(
        status=Reminder.Status.SENT,
        sent_at=now,
        lease_until=None,
        attempts=F("attempts") + 1,
        last_error="",
    )
    return "sent"


def reminders_send_due(
    *,
    now: datetime,
    limit: int = BATCH,
    token: str | None = None,
    after_claim=None,
    budget: timedelta = SEND_BUDGET,
) -> SendResult:
    """Claim due reminders in batches and send them, until none is left or BUDGET is spent.

    AFTER_CLAIM(ids) is called after each claim (logging, tests).
    """
    token = token or secrets.token_hex(16)
    result = SendResult()
    started = monotonic_time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=monotonic_time.monotonic() - started)

    while clock() - now < budget:
        ids = reminders_claim(now=clock(), token=token, limit=limit)
        if not ids:
            break
        result.claimed += len(ids)
        if after_claim is not None:
            after_claim(ids)
        for reminder in Reminder.objects.filter(id__in=ids).order_by("next_attempt_at", "id"):
            outcome = reminder_send(reminder=reminder, token=token, now=clock())
            if outcome == "sent":
                result.sent += 1
            elif outcome == "retry":
                result.retried += 1
            elif outcome == "failed":
                result.failed += 1
    return result
