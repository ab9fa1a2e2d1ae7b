"""Recording audit events. Who acts (user, token, command) and through what (web/api/cli) is held
in a contextvar set by the web middleware, the API auth and management commands (`acting`)."""

import contextlib
import contextvars
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent

REDACTED_CHANGED = "changed"
REDACTED_UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Actor:
    via: str
    user: object = None
    name: str = ""
    token_prefix: str = ""
    command: str = ""


_current = contextvars.ContextVar("audit_actor", default=None)


@contextlib.contextmanager
def acting(actor):
    """Every `record` inside this block is attributed to `actor`."""
    reset = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(reset)


def act_as(actor):
    """Set the actor for the rest of the current context (the API auth, inside the web
    middleware's `acting` block, which resets it after the request)."""
    _current.set(actor)


def redact(before, after, keys):
    """Replace secret values by "changed"/"unchanged" in the `after` dict and drop them from
    `before`, so no secret reaches the table."""
    before, after = dict(before or {}), dict(after or {})
    for key in keys:
        if key in before or key in after:
            state = REDACTED_CHANGED if before.get(key) != after.get(key) else REDACTED_UNCHANGED
            before.pop(key, None)
            after[key] = state
    return before, after


def fields(obj, names):
    """OBJ's NAMES as a JSON-safe dict (for `before`/`after`)."""
    if obj is None:
        return None
    values = {}
    for name in names:
        value = getattr(obj, name)
        values[name] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return values


def record(*, action, obj, before=None, after=None, object_type=None, secrets=()):
    """Append one event, in the caller's transaction. Values under SECRETS are stored as
    "changed"/"unchanged" only, never themselves."""
    if secrets:
        had_before = before is not None
        before, after = redact(before, after, secrets)
        before = before if had_before else None
    actor = _current.get() or Actor(via="cli", name="system")
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    name = actor.name or (user.get_username() if user else "anonymous")
    return AuditEvent.objects.create(
        at=timezone.now(),
        user=user,
        actor=name,
        via=actor.via,
        token_prefix=actor.token_prefix,
        command=actor.command,
        action=action,
        object_type=object_type or type(obj).__name__.lower(),
        object=str(getattr(obj, "name", None) or getattr(obj, "pk", None) or obj)[:300],
        before=before,
        after=after,
    )


def purge(now=None):
    """Delete events older than WATCHKEEPER_AUDIT_RETENTION_DAYS: the only path the trigger
    lets a DELETE through (SET LOCAL inside this transaction). Returns the count deleted."""
    days = getattr(settings, "WATCHKEEPER_AUDIT_RETENTION_DAYS", 400)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL watchkeeper.audit_purge = 'on'")
        cursor.execute("DELETE FROM audit_auditevent WHERE at < %s", [cutoff])
        return cursor.rowcount
