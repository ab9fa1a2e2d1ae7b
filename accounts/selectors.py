"""Reads of the accounts app: API tokens, profiles, teams."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from . import tokens
from .models import ApiToken, Membership, Profile, Team
from .roles import ADMIN, is_global_admin


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


def teams_administered(*, user):
    """The teams USER may put clusters in: every team for a global admin (the default team
    is made if it was deleted or never made), else the teams where USER holds the admin role."""
    if is_global_admin(user):
        Team.default()
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user, memberships__role=ADMIN).order_by("name")


def teams_with_members():
    """Every team with its memberships and their users (the teams page)."""
    members = Membership.objects.select_related("user").order_by("user__username")
    return Team.objects.order_by("name").prefetch_related(Prefetch("memberships", queryset=members))
