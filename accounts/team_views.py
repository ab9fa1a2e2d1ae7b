"""The teams page for global admins: create teams, give users a role in a team or remove it."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import selectors, teams
from .models import Team
from .roles import ROLES, global_admin_required


@global_admin_required
def team_list(request):
    """Every team with its members and their roles, and the forms that change them."""
    return render(
        request,
        "accounts/teams.html",
        {
            "teams": selectors.teams_with_members(),
            "roles": ROLES,
            "usernames": get_user_model()
            .objects.filter(is_active=True)
            .order_by("username")
            .values_list("username", flat=True),
        },
    )


@global_admin_required
@require_POST
def team_create(request):
    """Make a team."""
    try:
        team = teams.team_create(name=request.POST.get("name", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Team {team.name} created.")
    return redirect("accounts:teams")


@global_admin_required
@require_POST
def team_member(request, team_id: int):
    """Give a user a role in the team; an empty role removes the user from it."""
    team = get_object_or_404(Team, pk=team_id)
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role") or None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        messages.error(request, f"No user named {username!r}.")
        return redirect("accounts:teams")
    try:
        teams.membership_set(team=team, user=user, role=role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        what = f"{role} in {team.name}" if role else f"no longer in {team.name}"
        messages.success(request, f"{user.username} is {what}.")
    return redirect("accounts:teams")
