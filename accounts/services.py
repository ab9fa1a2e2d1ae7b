"""Writes for accounts: users, roles, preferences, API tokens."""

import secrets
import zoneinfo
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from audit import services as audit

from . import teams, tokens
from .models import DEFAULT_TEAM, ApiToken, Profile, Team, new_calendar_token
from .roles import ADMIN, ROLES, forget_roles, role_of


@transaction.atomic
def user_set_role(*, user, role: str | None, team: Team | None = None) -> None:
    """Set USER's role: admin is the global admin role (staff and superuser, every team);
    viewer or operator is that role in TEAM (the default team when None), and takes the
    global admin role away; None takes every role away (global and in every team)."""
    if role is not None and role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    audit.record(
        action="user.role",
        obj=user.get_username(),
        object_type="user",
        before={"role": role_of(user)},
        after={"role": role} if role in (None, ADMIN) else {"role": role, "team": _name(team)},
    )
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.is_staff = user.is_superuser = role == ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    if role is None:
        teams.memberships_replace(user=user, roles={})
    elif role != ADMIN:
        teams.membership_set(team=team or Team.default(), user=user, role=role)
    forget_roles(user)


@transaction.atomic
def user_set_global_admin(*, user, admin: bool) -> None:
    """Give or take the global admin role alone (team memberships unchanged)."""
    if bool(user.is_superuser) == admin:
        return
    audit.record(
        action="user.role",
        obj=user.get_username(),
        object_type="user",
        before={"global_admin": not admin},
        after={"global_admin": admin},
    )
    admin_group = Group.objects.get_or_create(name=ADMIN)[0]
    if admin:
        user.groups.add(admin_group)
    else:
        user.groups.remove(admin_group)
    user.is_staff = user.is_superuser = admin
    user.save(update_fields=["is_staff", "is_superuser"])
    forget_roles(user)


def _name(team: Team | None) -> str:
    return team.name if team is not None else DEFAULT_TEAM


@transaction.atomic
def user_create(
    *, username: str, email: str = "", role: str, password: str | None = None, team=None
):
    """Create a user with a role (in TEAM, see user_set_role); returns (user, password) with
    a generated password if none."""
    password = password or secrets.token_urlsafe(15)
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    user_set_role(user=user, role=role, team=team)
    return user, password


def admin_ensure(*, username: str = "admin") -> tuple[str, str] | None:
    """Create the first admin account when no admin exists; returns (name, password) once."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    if User.objects.filter(username=username).exists():
        username = f"{username}-{secrets.token_hex(3)}"
    user, password = user_create(username=username, role=ADMIN)
    return user.username, password


def profile_set_time_zone(*, user, time_zone: str) -> Profile:
    """Store the display time zone, refusing names that are not IANA zones."""
    if time_zone not in zoneinfo.available_timezones():
        raise ValidationError(f"{time_zone!r} is not an IANA time zone (e.g. Europe/Berlin).")
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return profile


def profile_ensure(*, user) -> Profile:
    """USER's profile, created with the defaults when there is none yet."""
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def profile_set_digest(*, user, enabled: bool, weekday: int, at: time) -> Profile:
    """Store the weekly digest preferences: on or off, the local weekday (0 = Monday) and time."""
    if weekday not in range(7):
        raise ValidationError("Choose a weekday from Monday to Sunday.")
    if not isinstance(at, time):
        raise ValidationError("Give the digest's time as HH:MM.")
    profile, _ = Profile.objects.update_or_create(
        user=user,
        defaults={
            "digest_enabled": enabled,
            "digest_weekday": weekday,
            "digest_time": at.replace(second=0, microsecond=0),
        },
    )
    return profile


def profile_calendar_token_rotate(*, user) -> str:
    """A new secret for USER's calendar feed URL; the old URL stops working (404)."""
    profile = profile_ensure(user=user)
    for _ in range(3):
        token = new_calendar_token()
        try:
            with transaction.atomic():
                Profile.objects.filter(pk=profile.pk).update(calendar_token=token)
        except IntegrityError:
            continue
        audit.record(action="calendar_token.rotate", obj=user.get_username(), object_type="user")
        return token
    raise RuntimeError("could not generate a unique calendar token")


# --- API tokens -------------------------------------------------------------------------------


def token_create(
    *, user, scope: str, days: int = tokens.DEFAULT_DAYS, name: str = "", now: datetime
) -> tuple[ApiToken, str]:
    """Make an API token for USER; returns (token, secret). The secret is not stored."""
    if scope not in tokens.SCOPES:
        raise ValidationError(f"Unknown scope {scope!r}; choose one of {', '.join(tokens.SCOPES)}.")
    if not 1 <= days <= tokens.MAX_DAYS:
        raise ValidationError(f"A token expires after 1 to {tokens.MAX_DAYS} days; got {days}.")
    name = name.strip()
    if len(name) > 100:
        raise ValidationError("A token's name has at most 100 characters.")
    role = role_of(user)
    if not tokens.scope_allowed(scope=scope, user_role=role):
        raise ValidationError(
            f"{user.get_username()} has the role {role or 'none'}: a token cannot have the "
            f"{scope} scope, which needs more."
        )
    secret = tokens.new_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=tokens.shown_prefix(secret),
        digest=tokens.digest(secret),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    audit.record(
        action="token.create",
        obj=token.prefix,
        object_type="apitoken",
        after={
            "user": user.get_username(),
            "name": name,
            "scope": scope,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, secret


def token_revoke(*, token: ApiToken, now: datetime) -> bool:
    """Revoke TOKEN (one conditional UPDATE); False when it was revoked already."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            audit.record(action="token.revoke", obj=token.prefix, object_type="apitoken")
    return bool(revoked)


LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is written at most once a minute


def token_touch(*, token: ApiToken, now: datetime) -> None:
    """Record that TOKEN was used at NOW (at most one UPDATE a minute per token)."""
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_STEP)
    ).update(last_used_at=now)
