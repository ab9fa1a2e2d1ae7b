"""The outbox: claim due reminder rows one at a time, each with its own short lease, and send
them over SMTP (email rows) or to a notification channel (channel rows), with retries.

Guarantee (docs/reliability.md, "Reminder delivery"): at least once, with a stable Message-ID.
The row is marked sent in its own committed transaction right after the SMTP server (or the
webhook receiver) accepted it; a worker that dies between that acceptance and the commit
leaves the row claimed, and it is sent again, with the same Message-ID, after LEASE."""

from __future__ import annotations

import logging
import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import F, Q

from audit import services as audit
from maintenance import channels as channel_transport
from maintenance.models import Reminder
from watchkeeper.crypto import SecretUnreadable

log = logging.getLogger(__name__)

# One row's lease: longer than one SMTP or HTTP attempt (10-30 s timeouts), short so that a
# row held by a dead worker is sent again soon. Only that one row waits it out.
LEASE = timedelta(minutes=2)
SEND_BUDGET = timedelta(seconds=45)  # a tick runs every minute
MAX_ATTEMPTS = 8

AfterAccept = Callable[[Reminder], None]


def _claimable(now: datetime) -> Q:
    return Q(status=Reminder.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Reminder.Status.SENDING, lease_until__lt=now
    )


def reminders_claim(
    *, now: datetime, token: str, limit: int = 1, lease: timedelta = LEASE
) -> list[int]:
    """Claim up to LIMIT due reminders (one by default) for TOKEN with a lease: a conditional
    UPDATE over rows locked with SKIP LOCKED.

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


def _mark_sent(*, reminder: Reminder, token: str, now: datetime) -> None:
    """Record "accepted by the SMTP server / the receiver" in its own committed transaction."""
    with transaction.atomic():
        Reminder.objects.filter(
            pk=reminder.pk, claimed_by=token, status=Reminder.Status.SENDING
        ).update(
            status=Reminder.Status.SENT,
            sent_at=now,
            lease_until=None,
            attempts=F("attempts") + 1,
            last_error="",
        )


def _mark_failed(
    *, reminder: Reminder, token: str, now: datetime, error: str, permanent: bool
) -> str:
    attempts = reminder.attempts + 1
    permanent = permanent or attempts >= MAX_ATTEMPTS
    changes = {"attempts": attempts, "last_error": error[:2000], "lease_until": None}
    changes["claimed_by"] = ""
    if permanent:
        changes["status"] = Reminder.Status.FAILED
    else:
        changes["status"] = Reminder.Status.PENDING
        changes["next_attempt_at"] = now + backoff(attempts)
    Reminder.objects.filter(pk=reminder.pk, claimed_by=token).update(**changes)
    log.warning(
        "reminder %s to %s: %s (%s)",
        reminder.pk,
        reminder.destination,
        error,
        "permanent" if permanent else "will retry",
    )
    return "failed" if permanent else "retry"


def _send_email(*, reminder: Reminder, token: str, now: datetime, after_accept) -> str:
    message = EmailMessage(
        subject=reminder.title,
        body=reminder.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.recipient],
        headers={"Message-ID": reminder.message_id, "X-Watchkeeper-Kind": reminder.kind},
    )
    connection = mailers.default
    try:
        try:
            connection.open()
            connection.send_messages([message])  # returns once the server answered DATA 250
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            return _mark_failed(
                reminder=reminder, token=token, now=now, error=error, permanent=_permanent(exc)
            )
        if after_accept is not None:
            after_accept(reminder)
        # the message is the server's now: record it before QUIT or anything else can fail
        _mark_sent(reminder=reminder, token=token, now=now)
        return "sent"
    finally:
        try:
            connection.close()
        except (smtplib.SMTPException, OSError) as exc:  # accepted already; QUIT is courtesy
            log.info("closing the SMTP connection: %s", exc)


def _send_to_channel(*, reminder: Reminder, token: str, now: datetime, after_accept) -> str:
    channel = reminder.channel
    try:
        secret = channel.secret()
    except SecretUnreadable as exc:
        return _mark_failed(reminder=reminder, token=token, now=now, error=str(exc), permanent=True)
    outcome = channel_transport.deliver(
        kind=channel.kind,
        secret=secret,
        message=channel_transport.Message(
            delivery_id=reminder.message_id,
            kind=reminder.kind,
            cluster=reminder.cluster.name if reminder.cluster_id else "",
            title=reminder.title,
            body=reminder.body,
        ),
        timestamp=int(time.time()),
    )
    if not outcome.ok:
        return _mark_failed(
            reminder=reminder,
            token=token,
            now=now,
            error=outcome.error,
            permanent=outcome.permanent or not channel.enabled,
        )
    if after_accept is not None:
        after_accept(reminder)
    _mark_sent(reminder=reminder, token=token, now=now)
    return "sent"


def reminder_send(
    *, reminder: Reminder, token: str, now: datetime, after_accept: AfterAccept | None = None
) -> str:
    """Send one claimed reminder; 'sent', 'retry', 'failed' or 'lost' (lease taken over).

    AFTER_ACCEPT(reminder) runs between the server's acceptance and the record of it (the
    fault-injection tests kill the worker or its database connection there)."""
    renewed = Reminder.objects.filter(
        pk=reminder.pk, claimed_by=token, status=Reminder.Status.SENDING
    ).update(lease_until=now + LEASE)
    if renewed != 1:
        return "lost"
    if reminder.channel_id:
        return _send_to_channel(reminder=reminder, token=token, now=now, after_accept=after_accept)
    return _send_email(reminder=reminder, token=token, now=now, after_accept=after_accept)


def _count(result: SendResult, outcome: str) -> None:
    if outcome == "sent":
        result.sent += 1
    elif outcome == "retry":
        result.retried += 1
    elif outcome == "failed":
        result.failed += 1


def reminders_send_due(
    *,
    now: datetime,
    token: str | None = None,
    after_claim=None,
    after_accept: AfterAccept | None = None,
    budget: timedelta = SEND_BUDGET,
) -> SendResult:
    """Claim due reminders one at a time and send each, until none is left or BUDGET is spent.

    AFTER_CLAIM(ids) is called after each claim (logging, tests); AFTER_ACCEPT see
    reminder_send. A database error while recording is raised: the row keeps its lease and is
    sent again after it."""
    token = token or secrets.token_hex(16)
    result = SendResult()
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    while clock() - now < budget:
        ids = reminders_claim(now=clock(), token=token)
        if not ids:
            break
        result.claimed += len(ids)
        if after_claim is not None:
            after_claim(ids)
        for reminder in Reminder.objects.filter(id__in=ids).select_related("channel", "cluster"):
            _count(
                result,
                reminder_send(
                    reminder=reminder, token=token, now=clock(), after_accept=after_accept
                ),
            )
    return result


def reminder_send_now(*, reminder_id: int, now: datetime) -> str:
    """Claim one due row by id and send it at once (a channel's test message); 'busy' when it
    is not claimable (another worker holds it, or it was sent)."""
    token = secrets.token_hex(16)
    claimed = Reminder.objects.filter(_claimable(now), pk=reminder_id).update(
        status=Reminder.Status.SENDING, lease_until=now + LEASE, claimed_by=token
    )
    if claimed != 1:
        return "busy"
    reminder = Reminder.objects.select_related("channel", "cluster").get(pk=reminder_id)
    return reminder_send(reminder=reminder, token=token, now=now)


def reminder_retry(*, reminder_id: int, user, now: datetime) -> Reminder | None:
    """Put a permanently failed reminder back to pending, due NOW, attempts reset; the failure
    it had is kept in its history. None when it is not failed (any more), or when it announces
    an occurrence that is gone (moved by a window edit), cancelled or started: a time that
    no longer holds is never announced."""
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("occurrence")
            .filter(pk=reminder_id, status=Reminder.Status.FAILED)
            .first()
        )
        if reminder is None:
            return None
        if reminder.kind == Reminder.Kind.WINDOW_UPCOMING and (
            reminder.occurrence is None
            or reminder.occurrence.status == reminder.occurrence.Status.CANCELLED
            or reminder.occurrence.start <= now
        ):
            return None
        reminder.history = [
            *reminder.history,
            {
                "failed_after": reminder.attempts,
                "error": reminder.last_error,
                "retried_at": now.isoformat(),
                "retried_by": getattr(user, "username", "") or "",
            },
        ]
        reminder.status = Reminder.Status.PENDING
        reminder.attempts = 0
        reminder.next_attempt_at = now
        reminder.last_error = ""
        reminder.lease_until = None
        reminder.claimed_by = ""
        reminder.save(
            update_fields=[
                "history", "status", "attempts", "next_attempt_at", "last_error",
                "lease_until", "claimed_by",
            ]
        )  # fmt: skip
        audit.record(
            action="reminder.retry",
            obj=reminder,
            before={"status": "failed", "last_error": reminder.history[-1]["error"][:500]},
            after={"status": "pending", "next_attempt_at": now.isoformat()},
        )
    log.info("reminder %s retried by %s", reminder.pk, reminder.history[-1]["retried_by"])
    return reminder
