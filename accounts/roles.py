"""The three roles (viewer, operator, admin), held per team (accounts.models.Membership), and
the global admin role (a superuser: sees and administers every team's clusters).

`role_of` is a user's highest role anywhere: it lets a user into a page at all (the
decorators below); which clusters the page shows, and what the user may do to one of them,
is `clusters.selectors.visible_clusters` and `role_on`."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from .models import Membership

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
RANK = {None: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}
DESCRIPTIONS = {
    VIEWER: "reads everything except credentials",
    OPERATOR: "maintenance actions, checklist steps, waivers",
    ADMIN: "clusters, credentials, users, policies",
}


def is_global_admin(user) -> bool:
    """The global admin role: an active superuser."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser)


def team_roles(user) -> dict[int, str]:
    """{team id: role} of USER's memberships (cached on the user for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, "_watchkeeper_team_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user._watchkeeper_team_roles = cached
    return cached


def forget_roles(user) -> None:
    """Drop the roles cached on USER (after a change to its role or memberships)."""
    user.__dict__.pop("_watchkeeper_role", None)
    user.__dict__.pop("_watchkeeper_team_roles", None)


def role_of(user) -> str | None:
    """The highest role a user holds anywhere (global admins: admin); None for no role."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_watchkeeper_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = ADMIN
    else:
        role = max(team_roles(user).values(), key=RANK.__getitem__, default=None)
    user._watchkeeper_role = role
    return role


def role_in_team(user, team_id: int) -> str | None:
    """USER's role on a cluster of team TEAM_ID: admin for global admins, else the
    membership's role; None when USER is not in the team."""
    if is_global_admin(user):
        return ADMIN
    return team_roles(user).get(team_id)


def has_role(user, role: str) -> bool:
    """True when the user holds ROLE or a higher one."""
    return RANK[role_of(user)] >= RANK[role]


def role_required(role: str):
    """View decorator: 403 unless the (logged-in) user holds ROLE or higher."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def global_admin_required(view):
    """View decorator: 403 unless the user is a global admin (teams, users)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_global_admin(request.user):
            raise PermissionDenied("This needs the global admin role.")
        return view(request, *args, **kwargs)

    return wrapper


viewer_required = role_required(VIEWER)
operator_required = role_required(OPERATOR)
admin_required = role_required(ADMIN)
