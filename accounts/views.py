"""Sign-in with throttling, preferences, and user management for admins."""

import datetime
import zoneinfo
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import selectors, services, throttle, tokens
from .models import Membership
from .roles import ROLES, global_admin_required, role_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def client_address(request) -> str:
    """The peer address (behind a proxy, REMOTE_ADDR is set by gunicorn's forwarded-allow-ips)."""
    return request.META.get("REMOTE_ADDR", "unknown")


@method_decorator(sensitive_post_parameters(), name="dispatch")
class ThrottledLoginView(auth_views.LoginView):
    """Django's login view that refuses for a while after repeated failures."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["local_login"] = settings.WATCHKEEPER_LOCAL_LOGIN
        context["sso"] = settings.WATCHKEEPER_OIDC
        return context

    def post(self, request, *args, **kwargs):
        if not settings.WATCHKEEPER_LOCAL_LOGIN:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Password sign-in is turned off; use single sign-on.")
            return self.render_to_response(self.get_context_data(form=form), status=403)
        username = request.POST.get("username", "")
        address = client_address(request)
        if throttle.is_locked(username=username, address=address):
            form = self.get_form()
            minutes = max(1, throttle_minutes())
            form.errors.clear()
            form.add_error(
                None,
                f"Too many failed sign-in attempts. Try again in {minutes} minutes "
                "or reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.record_success(username=username, address=address)
        else:
            throttle.record_failure(username=username, address=address)
        return response


def local_login_only(view):
    """404 while local accounts are turned off (WATCHKEEPER_LOCAL_LOGIN=false)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.WATCHKEEPER_LOCAL_LOGIN:
            raise Http404("Local accounts are turned off.")
        return view(request, *args, **kwargs)

    return wrapper


def throttle_minutes() -> int:
    from django.conf import settings

    return settings.LOGIN_LOCKOUT_SECONDS // 60


def preferences(request):
    """The user's display time zone."""
    profile = getattr(request.user, "profile", None) if hasattr(request.user, "profile") else None
    current = profile.time_zone if profile else "UTC"
    if request.method == "POST":
        try:
            services.profile_set_time_zone(
                user=request.user, time_zone=request.POST.get("time_zone", "")
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, "Display time zone saved.")
            return redirect("accounts:preferences")
        current = request.POST.get("time_zone", current)
    return _preferences_page(request, current=current)


def _preferences_page(request, *, current: str | None = None, status: int = 200, **extra):
    profile = services.profile_ensure(user=request.user)
    if current is None:
        current = profile.time_zone
    my_role = role_of(request.user)
    return render(
        request,
        "accounts/preferences.html",
        {
            "current": current,
            "zones": sorted(zoneinfo.available_timezones()),
            "my_role": my_role,
            "tokens": selectors.tokens_of(user=request.user),
            "scopes": [
                s for s in tokens.SCOPES if tokens.scope_allowed(scope=s, user_role=my_role)
            ],
            "token_days": tokens.DEFAULT_DAYS,
            "token_max_days": tokens.MAX_DAYS,
            "now": timezone.now(),
            "profile": profile,
            "weekdays": WEEKDAYS,
            "calendar_url": settings.WATCHKEEPER_BASE_URL
            + reverse("maintenance:user_calendar", args=[profile.calendar_token]),
            **extra,
        },
        status=status,
    )


@require_POST
def digest(request):
    """Turn the weekly digest on or off and choose its local weekday and time."""
    try:
        weekday = int(request.POST.get("weekday", "0"))
        at = datetime.time.fromisoformat(request.POST.get("time", ""))
    except ValueError:
        messages.error(request, "Choose a weekday and give the time as HH:MM.")
        return redirect("accounts:preferences")
    try:
        services.profile_set_digest(
            user=request.user, enabled=request.POST.get("enabled") == "1", weekday=weekday, at=at
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "Weekly digest preferences saved.")
    return redirect("accounts:preferences")


@require_POST
def calendar_rotate(request):
    """A new secret URL for one's calendar feed; the old one stops working."""
    services.profile_calendar_token_rotate(user=request.user)
    messages.success(request, "New calendar feed URL: the old one no longer works.")
    return redirect("accounts:preferences")


@require_POST
def token_create(request):
    """Make an API token for oneself; its secret is in this response only (never stored)."""
    try:
        days = int(request.POST.get("days", tokens.DEFAULT_DAYS))
    except ValueError:
        messages.error(request, "The expiry is a number of days.")
        return redirect("accounts:preferences")
    try:
        token, secret = services.token_create(
            user=request.user,
            scope=request.POST.get("scope", ""),
            days=days,
            name=request.POST.get("name", ""),
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("accounts:preferences")
    response = _preferences_page(request, new_token=token, new_secret=secret)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, token_id: int):
    """Revoke one of one's own API tokens."""
    token = get_object_or_404(selectors.tokens_of(user=request.user), pk=token_id)
    if services.token_revoke(token=token, now=timezone.now()):
        messages.success(request, f"Token {token.prefix}… revoked.")
    else:
        messages.info(request, f"Token {token.prefix}… was revoked already.")
    return redirect("accounts:preferences")


@global_admin_required
def users(request):
    """Every account with its role; admins create accounts and change roles."""
    people = (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(
            Prefetch("memberships", queryset=Membership.objects.select_related("team"))
        )
    )
    rows = [
        {
            "user": person,
            "role": "admin" if person.is_superuser else None,
            "teams": [f"{m.team.name}: {m.role}" for m in person.memberships.all()],
        }
        for person in people
    ]
    return render(request, "accounts/users.html", {"rows": rows, "roles": ROLES})


@global_admin_required
@require_POST
def user_create(request):
    """Create an account with a role; the generated password is shown once."""
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", "")
    if not username or role not in ROLES:
        messages.error(request, "A user needs a name and one of the roles viewer, operator, admin.")
    elif get_user_model().objects.filter(username=username).exists():
        messages.error(request, f"A user named {username} already exists.")
    else:
        _, password = services.user_create(
            username=username, email=request.POST.get("email", "").strip(), role=role
        )
        messages.success(
            request, f"Created {username} ({role}). Initial password, shown once: {password}"
        )
    return redirect("accounts:users")


@global_admin_required
@require_POST
def user_role(request, user_id: int):
    """Change one account's role."""
    person = get_object_or_404(get_user_model(), pk=user_id)
    role = request.POST.get("role") or None
    if person == request.user and role != "admin":
        messages.error(request, "You cannot remove your own admin role.")
        return redirect("accounts:users")
    try:
        services.user_set_role(user=person, role=role)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"{person.username} is now {role or 'without a role'}.")
    return redirect("accounts:users")
