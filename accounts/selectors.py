"""Reads of the accounts app: API tokens."""

from . import tokens
from .models import ApiToken


def tokens_of(*, user):
    """USER's API tokens, newest first (revoked and expired ones included)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_by_secret(*, secret: str) -> ApiToken | None:
    """The token whose secret is SECRET (looked up by digest), with its user; None if unknown."""
    if not secret.startswith(tokens.PREFIX) or len(secret) > 100:
        return None
    return ApiToken.objects.select_related("user").filter(digest=tokens.digest(secret)).first()


def token_list(*, user=None):
    """Every token (or USER's), with its user, for `manage.py token list`."""
    rows = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
    if user is not None:
        rows = rows.filter(user=user)
    return rows
