"""Reads of the accounts app: API tokens, profiles."""

from django.contrib.auth import get_user_model

from . import tokens
from .models import ApiToken, Profile


def user_by_calendar_token(*, token: str):
    """The user whose calendar feed token is TOKEN, or None."""
    profile = Profile.objects.select_related("user").filter(calendar_token=token).first()
    return profile.user if profile is not None else None


def digest_recipients():
    """Active users with an email address, with their profiles (None before they saved one),
    for the weekly digest; whether they get one is up to their preferences and visibility."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .select_related("profile")
        .order_by("pk")
    )


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
