"""Failed-login throttling: after N failures for a username or an address, refuse for a while."""

from django.conf import settings
from django.core.cache import cache


def _keys(username: str, address: str) -> list[str]:
    return [f"login-fail:user:{username.strip().lower()}", f"login-fail:addr:{address}"]


def is_locked(*, username: str, address: str) -> bool:
    """True while either the username or the address has reached the failure limit."""
    counts = cache.get_many(_keys(username, address)).values()
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts)


def record_failure(*, username: str, address: str) -> None:
    """Count one failed attempt against the username and the address."""
    for key in _keys(username, address):
        if cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def record_success(*, username: str, address: str) -> None:
    """A successful login clears the username's count (the address keeps its own)."""
    cache.delete(_keys(username, address)[0])
