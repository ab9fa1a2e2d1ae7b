"""Writes for accounts: users, roles, preferences."""

import secrets
import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Profile
from .roles import ADMIN, ROLES


@transaction.atomic
def user_set_role(*, user, role: str | None) -> None:
    """Give USER exactly one role (or none); admins are staff and superusers."""
    if role is not None and role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.is_staff = user.is_superuser = role == ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_watchkeeper_role", None)


@transaction.atomic
def user_create(*, username: str, email: str = "", role: str, password: str | None = None):
    """Create a user with a role; returns (user, password) with a generated password if none."""
    password = password or secrets.token_urlsafe(15)
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    user_set_role(user=user, role=role)
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
