"""Who is calling: a signed-in session (CSRF for unsafe methods) or a bearer API token.

A token acts with the lower of its scope and its user's current role, read at every request;
each token has its own rate limit (Django's cache, one counter per token and minute; without
the cache the limit is skipped, logged).
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts import tokens
from accounts.roles import RANK, VIEWER, role_of
from audit import services as audit
from clusters import selectors as cluster_selectors
from watchkeeper.degrade import CACHE_ERRORS

from .errors import ApiError

log = logging.getLogger(__name__)

RATE_WINDOW = 60  # seconds


@dataclass(frozen=True)
class Principal:
    """The caller: a user, the role it acts with now, and the token used (None: a session)."""

    user: object
    role: str | None
    token: object | None = None


def _count(key: str) -> int:
    """Count one request under KEY (the token's minute); the count so far."""
    if cache.add(key, 1, timeout=RATE_WINDOW * 2):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=RATE_WINDOW * 2)
        return 1


def _rate_limit(token) -> None:
    """Count one request against TOKEN's minute; 429 with Retry-After past the limit."""
    limit = settings.WATCHKEEPER_API_RATE_LIMIT
    now = time.time()
    window = int(now // RATE_WINDOW)
    key = f"api-rate:{token.pk}:{window}"
    try:
        count = _count(key)
    except CACHE_ERRORS:  # fails open, like the login throttle: the API keeps working
        log.warning("API rate limiting skipped: the cache is unavailable", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * RATE_WINDOW - now) + 1)
        raise ApiError(
            429,
            "rate_limited",
            f"This token may make {limit} requests a minute; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def _allowed(principal: Principal, role: str | None) -> Principal:
    """PRINCIPAL, if it acts with ROLE or higher (None: any); 403 otherwise."""
    if role is not None and RANK[principal.role] < RANK[role]:
        via = "this token's scope" if principal.token is not None else "your role"
        raise ApiError(
            403, "role_required", f"This needs the {role} role; {via} gives {principal.role}."
        )
    return principal


class TokenAuth(HttpBearer):
    """Authorization: Bearer wk_... (with ROLE: 403 below it, before the input is read)."""

    def __init__(self, role: str | None = None):
        self.role = role
        super().__init__()

    def __call__(self, request):
        header = request.headers.get("Authorization")
        if header is not None and not header.lower().startswith("bearer "):
            raise ApiError(
                401, "token_invalid", "Send the token as 'Authorization: Bearer <token>'."
            )
        return super().__call__(request)

    def authenticate(self, request, token: str):
        now = timezone.now()
        found = account_selectors.token_by_secret(secret=token.strip())
        if found is None or not found.user.is_active:
            raise ApiError(401, "token_invalid", "This API token is not valid.")
        if found.revoked_at is not None:
            raise ApiError(401, "token_revoked", "This API token was revoked.")
        if found.expires_at <= now:
            raise ApiError(401, "token_expired", "This API token has expired.")
        _rate_limit(found)
        account_services.token_touch(token=found, now=now)
        role = tokens.effective_role(scope=found.scope, user_role=role_of(found.user))
        audit.act_as(audit.Actor(via="api", user=found.user, token_prefix=found.prefix))
        return _allowed(Principal(user=found.user, role=role, token=found), self.role)


class SessionAuth(APIKeyCookie):
    """The pages' own session cookie; unsafe methods need the CSRF token (X-CSRFToken). With
    ROLE: 403 below it, before the input is read."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, role: str | None = None):
        self.role = role
        super().__init__()

    def _get_key(self, request):
        if "Authorization" in request.headers or not request.user.is_authenticated:
            return None  # a bearer token decides alone; no session: 401, not a CSRF error
        return super()._get_key(request)

    def authenticate(self, request, key):
        if key is None or not request.user.is_authenticated:
            return None
        audit.act_as(audit.Actor(via="api", user=request.user))
        return _allowed(Principal(user=request.user, role=role_of(request.user)), self.role)


def needs(role: str) -> list:
    """An operation's `auth`: a token or a session acting with ROLE or higher. The role is
    checked before the body is read, so a caller below it gets 403, never a 422."""
    return [TokenAuth(role), SessionAuth(role)]


def require(request, role: str) -> Principal:
    """The caller, if it acts with ROLE or higher; 403 otherwise."""
    principal = _allowed(request.auth, role)
    # the role this operation needs: api.access looks the cluster (or row) up with it
    request.watchkeeper_role = max(
        role, getattr(request, "watchkeeper_role", VIEWER), key=RANK.__getitem__
    )
    return principal


def cluster_for(request, name: str, *, role: str = VIEWER):
    """The cluster named NAME for an API call that needs ROLE on it: 404 when it does not
    exist or the caller is not in its team (as for an unknown name), 403 when the caller (or
    the token's scope) holds less than ROLE on it. Every cluster lookup of the API is this."""
    principal: Principal = request.auth
    cluster = cluster_selectors.visible_clusters(principal.user).filter(name=name).first()
    if cluster is None:
        raise ApiError(404, "not_found", f"No cluster named {name!r}.")
    held = cluster_selectors.role_on(principal.user, cluster)
    if principal.token is not None:
        held = tokens.effective_role(scope=principal.token.scope, user_role=held)
    if RANK[held] < RANK[role]:
        via = "this token's scope" if principal.token is not None else "your role"
        raise ApiError(
            403, "role_required", f"This needs the {role} role on {name}; {via} gives {held}."
        )
    return cluster


def visible_clusters(request, role: str = VIEWER):
    """The clusters the caller may see (with ROLE or more): clusters.selectors.visible_clusters
    of its user."""
    return cluster_selectors.visible_clusters(request.auth.user, role)
