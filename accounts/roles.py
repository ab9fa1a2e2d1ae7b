"""The three roles (viewer, operator, admin) as Django groups, and checks against them."""

from functools import wraps

from django.core.exceptions import PermissionDenied

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


def role_of(user) -> str | None:
    """The highest role a user holds (superusers are admins); None for no role."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_watchkeeper_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = ADMIN
    else:
        names = set(user.groups.values_list("name", flat=True))
        role = next((name for name in reversed(ROLES) if name in names), None)
    user._watchkeeper_role = role
    return role


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


viewer_required = role_required(VIEWER)
operator_required = role_required(OPERATOR)
admin_required = role_required(ADMIN)
