"""Notification channels: create one (URL checked for its kind, secret stored encrypted)."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from clusters.models import Cluster
from maintenance import channels as channel_transport
from maintenance.models import Channel


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
    return channel
