"""Template context: the current user's role, for showing or hiding controls.

can_operate / can_admin say the user holds that role somewhere (some team, or globally);
a page about one cluster overrides them with the role on that cluster
(dashboard.views.cluster_roles). is_global_admin shows the users and teams pages."""

from .roles import has_role, is_global_admin, role_of


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None, "can_operate": False, "can_admin": False, "is_global_admin": False}
    return {
        "role": role_of(user),
        "can_operate": has_role(user, "operator"),
        "can_admin": has_role(user, "admin"),
        "is_global_admin": is_global_admin(user),
    }
