"""Failed-login throttling: after N failures for a username or an address, refuse for a while.

The counts live in Django's cache (Redis in production). When the cache is unreachable,
sign-in still works: throttling is skipped with a logged warning (fail open), never a 500.
"""

import logging

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# redis-py raises its own ConnectionError/TimeoutError (OSError subclasses in part, not all).
try:
    from redis.exceptions import RedisError as _CacheFault
except ImportError:  # pragma: no cover - the embedded default has no redis package need
    _CacheFault = OSError


def _keys(username: str, address: str) -> list[str]:
    return [f"login-fail:user:{username.strip().lower()}", f"login-fail:addr:{address}"]


def _unavailable(action: str) -> None:
    log.warning("login throttling skipped (%s): the cache is unavailable", action, exc_info=True)


def is_locked(*, username: str, address: str) -> bool:
    """True while either the username or the address has reached the failure limit."""
    try:
        counts = cache.get_many(_keys(username, address)).values()
    except (_CacheFault, OSError):
        _unavailable("check")
        return False
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts)


def record_failure(*, username: str, address: str) -> None:
    """Count one failed attempt against the username and the address."""
    try:
        for key in _keys(username, address):
            if cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
                continue
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    except (_CacheFault, OSError):
        _unavailable("count")


def record_success(*, username: str, address: str) -> None:
    """A successful login clears the username's count (the address keeps its own)."""
    try:
        cache.delete(_keys(username, address)[0])
    except (_CacheFault, OSError):
        _unavailable("clear")
