"""Template context: the current user's role, for showing or hiding controls."""

from .roles import has_role, role_of


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None, "can_operate": False, "can_admin": False}
    return {
        "role": role_of(user),
        "can_operate": has_role(user, "operator"),
        "can_admin": has_role(user, "admin"),
    }
