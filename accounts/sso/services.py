"""Writes for single sign-on: find or create the user of a provider identity, refresh roles."""

import hashlib
import logging
import re

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import DEFAULT_TEAM, Team
from accounts.services import user_set_global_admin
from accounts.teams import memberships_replace
from watchkeeper.sso import groups_from_claims, roles_for_groups

from .models import Identity

log = logging.getLogger(__name__)
USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


class IdentityRefused(Exception):
    """The claims cannot identify a user (no usable `sub`)."""


def _free_username(claims: dict, subject: str) -> str:
    """preferred_username, else the email, else sso-<hash of sub>; suffixed when taken."""
    User = get_user_model()
    wanted = ""
    for key in ("preferred_username", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            wanted = USERNAME_UNSAFE.sub("", value.strip())[:120]
            if wanted:
                break
    if not wanted:
        wanted = "sso-" + hashlib.sha256(subject.encode()).hexdigest()[:10]
    candidate, number = wanted, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{wanted}-sso{number if number > 2 else ''}"
    return candidate


@transaction.atomic
def sign_in(*, issuer: str, claims: dict, groups_claim: str, rules, now):
    """The user of (issuer, claims['sub']), created on first sign-in; its role set from groups.

    Matching is by `sub` alone (stored on Identity): a user whose provider email changes stays
    the same user, and an email never attaches a provider account to an existing local one
    (an admin links those with `manage.py sso_link`).
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
        raise IdentityRefused("the ID token has no usable sub claim")
    identity = (
        Identity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        User = get_user_model()
        user = User(username=_free_username(claims, subject))
        user.set_unusable_password()
        user.save()
        identity = Identity(user=user, issuer=issuer, subject=subject)
    user = identity.user
    changed = []
    for field, claim, limit in (
        ("email", "email", 254),
        ("first_name", "given_name", 150),
        ("last_name", "family_name", 150),
    ):
        value = claims.get(claim)
        if isinstance(value, str) and value[:limit] != getattr(user, field):
            setattr(user, field, value[:limit])
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    groups = groups_from_claims(claims, groups_claim)
    roles_refresh(user=user, groups=groups, rules=rules)
    identity.groups = groups
    identity.last_sign_in = now
    identity.save()
    return user


def roles_refresh(*, user, groups, rules) -> None:
    """Make USER's roles exactly what GROUPS map to: the global admin role or not, and one
    role per mapped team; roles in teams the claim no longer maps are removed. A mapped team
    that does not exist is skipped (logged): an admin makes teams, sign-in does not."""
    admin, wanted = roles_for_groups(groups, rules)
    user_set_global_admin(user=user, admin=admin)
    found = {team.name: team for team in Team.objects.filter(name__in=list(wanted))}
    if DEFAULT_TEAM in wanted and DEFAULT_TEAM not in found:
        found[DEFAULT_TEAM] = Team.default()
    for name in sorted(set(wanted) - set(found)):
        log.warning("single sign-on: groups of %s map to team %r, which does not exist", user, name)
    memberships_replace(
        user=user, roles={found[name]: role for name, role in wanted.items() if name in found}
    )


@transaction.atomic
def link(*, user, issuer: str, subject: str) -> Identity:
    """Attach an existing (local) account to a provider identity, replacing an older link."""
    if Identity.objects.filter(issuer=issuer, subject=subject).exclude(user=user).exists():
        raise IdentityRefused(f"sub {subject!r} is already linked to another user")
    identity, _ = Identity.objects.update_or_create(
        user=user, defaults={"issuer": issuer, "subject": subject}
    )
    return identity
