"""Writes for teams: create, delete, and who holds which role in a team (audited)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit import services as audit

from .models import Membership, Team
from .roles import ROLES, forget_roles


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


@transaction.atomic
def team_create(*, name: str) -> Team:
    """Make a team named NAME (letters, digits, dot, dash, underscore); refused if taken."""
    name = name.strip()
    team = Team(name=name)
    team.full_clean(validate_unique=False)
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"A team named {name} exists already.")
    team.save()
    audit.record(action="team.create", obj=name, object_type="team", after={"name": name})
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    """Delete TEAM and its memberships; refused while it owns a cluster."""
    owned = list(team.clusters.values_list("name", flat=True)[:5])
    if owned:
        raise ValidationError(
            f"Team {team.name} owns clusters ({', '.join(owned)}); move them to another team first."
        )
    audit.record(
        action="team.delete", obj=team.name, object_type="team", before={"name": team.name}
    )
    team.delete()


@transaction.atomic
def membership_set(*, team: Team, user, role: str | None) -> None:
    """Give USER exactly ROLE in TEAM; None removes USER from the team."""
    if role is not None:
        _checked_role(role)
    current = Membership.objects.select_for_update().filter(team=team, user=user).first()
    before = current.role if current else None
    if before == role:
        return
    if role is None:
        current.delete()
    elif current is None:
        Membership.objects.create(team=team, user=user, role=role)
    else:
        current.role = role
        current.save(update_fields=["role"])
    audit.record(
        action="team.member",
        obj=f"{team.name}/{user.get_username()}",
        object_type="membership",
        before={"role": before},
        after={"role": role},
    )
    forget_roles(user)


@transaction.atomic
def memberships_replace(*, user, roles: dict[Team, str]) -> None:
    """Make USER's memberships exactly ROLES ({team: role}): other teams' roles removed."""
    for role in roles.values():
        _checked_role(role)
    for membership in Membership.objects.filter(user=user).exclude(team__in=list(roles)):
        membership_set(team=membership.team, user=user, role=None)
    for team, role in roles.items():
        membership_set(team=team, user=user, role=role)
