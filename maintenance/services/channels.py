"""Notification channels: create (URL checked for its kind, secret stored encrypted), enable or
disable, delete, send a test message. Every change is audited; the URL never is."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit import services as audit
from clusters.models import Cluster
from maintenance import channels as channel_transport
from maintenance.models import Channel, Reminder
from maintenance.services import outbox, reminders


def channel_create(
    *,
    name: str,
    kind: str,
    url: str,
    now: datetime,
    cluster: Cluster | None = None,
    signing_secret: str = "",
) -> Channel:
    """A new enabled channel; ValidationError (and nothing stored) when NAME or URL is bad.
    A webhook without SIGNING_SECRET gets a random one (read it back with channel.secret())."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("A channel needs a name.")
    url = channel_transport.url_check(kind=kind, url=url)
    if kind == Channel.Kind.WEBHOOK and not signing_secret:
        signing_secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        if Channel.objects.filter(name=name).exists():
            raise ValidationError(f"A channel named {name!r} exists already.")
        channel = Channel(name=name, kind=kind, cluster=cluster, created_at=now)
        channel.set_secret(url=url, signing_secret=signing_secret)
        channel.save()
        audit.record(
            action="channel.create",
            obj=channel,
            after={**_audit_fields(channel), "url": "set"},
        )
    return channel


def channel_enable(*, channel: Channel, enabled: bool) -> Channel:
    """Turn CHANNEL on or off; a disabled channel gets no new rows and its pending ones fail
    permanently when their turn comes."""
    if channel.enabled != enabled:
        before = {"enabled": channel.enabled}
        channel.enabled = enabled
        channel.save(update_fields=["enabled"])
        audit.record(
            action="channel.enable" if enabled else "channel.disable",
            obj=channel,
            before=before,
            after={"enabled": enabled},
        )
    return channel


def channel_delete(*, channel: Channel) -> None:
    """Delete CHANNEL and its delivery rows (the reminders log keeps the email rows)."""
    audit.record(action="channel.delete", obj=channel, before=_audit_fields(channel))
    channel.delete()


def channel_test(*, channel: Channel, now: datetime) -> Reminder:
    """Send a test message to CHANNEL now, through the same row, claim and transport as every
    notification; returns the row (status sent, pending for a retry, or failed, with the
    error). Each call is a new message."""
    nonce = secrets.token_hex(4)
    key = f"{Reminder.Kind.CHANNEL_TEST}|{now.isoformat()}|{nonce}|channel:{channel.pk}"
    reminder = Reminder.objects.create(
        cluster=channel.cluster,
        kind=Reminder.Kind.CHANNEL_TEST,
        subject_key=f"channel:{channel.pk}",
        channel=channel,
        title=f"Watchkeeper test message for channel {channel.name}",
        body=(
            "This is a test message from Watchkeeper. If you can read it, notifications "
            f"for {channel.cluster.name if channel.cluster_id else 'every cluster'} reach this "
            "channel."
        ),
        due_at=now,
        next_attempt_at=now,
        dedup_key=key,
        message_id=reminders.message_id_for(key),
        created_at=now,
    )
    outbox.reminder_send_now(reminder_id=reminder.pk, now=now)
    reminder.refresh_from_db()
    return reminder


def _audit_fields(channel: Channel) -> dict:
    return {
        "name": channel.name,
        "kind": channel.kind,
        "cluster": channel.cluster.name if channel.cluster_id else None,
        "enabled": channel.enabled,
    }
