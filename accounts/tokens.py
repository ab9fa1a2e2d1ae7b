"""API token rules: secrets, digests, scopes and the role a token acts with. Pure code."""

import hashlib
import secrets

from .roles import ADMIN, OPERATOR, RANK, VIEWER

PREFIX = "wk_"
PREFIX_SHOWN = 11  # "wk_" and the secret's first 8 characters: enough to tell tokens apart
SCOPE_ROLE = {"read": VIEWER, "operate": OPERATOR, "admin": ADMIN}
SCOPES = tuple(SCOPE_ROLE)
MAX_DAYS = 366
DEFAULT_DAYS = 90


def new_secret() -> str:
    """A new token: wk_ and 43 url-safe characters (256 bits from the OS's generator)."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored: the SHA-256 of the secret, hex (a high-entropy secret needs no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(secret: str) -> str:
    return secret[:PREFIX_SHOWN]


def effective_role(*, scope: str, user_role: str | None) -> str | None:
    """The lower of the token's scope and its user's current role (None: no role)."""
    scope_role = SCOPE_ROLE[scope]
    if user_role is None:
        return None
    return scope_role if RANK[scope_role] <= RANK[user_role] else user_role


def scope_allowed(*, scope: str, user_role: str | None) -> bool:
    """A user may only make tokens up to their own role."""
    return user_role is not None and RANK[SCOPE_ROLE[scope]] <= RANK[user_role]
