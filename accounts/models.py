"""Per-user preferences."""

import datetime
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models


def new_calendar_token() -> str:
    """An unguessable token for a user's calendar feed URL."""
    return secrets.token_urlsafe(24)


class Profile(models.Model):
    """A user's preferences: the time zone pages (and the weekly digest) go by, the weekly
    digest (on or off, local weekday and time), and the secret of their calendar feed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    digest_enabled = models.BooleanField(default=True)
    digest_weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="0 = Monday ... 6 = Sunday"
    )
    digest_time = models.TimeField(default=datetime.time(8, 0))
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class ApiToken(models.Model):
    """A bearer token for the REST API: only its SHA-256 is stored; the secret is shown once.

    A token acts with the lower of its scope and its user's current role (checked at every
    request), so it never has more than its user."""

    class Scope(models.TextChoices):
        READ = "read"
        OPERATE = "operate"
        ADMIN = "admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16, help_text="the secret's first characters, shown")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret, hex")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope}) of {self.user}"


DEFAULT_TEAM = "default"


class Team(models.Model):
    """A group of people that owns clusters; roles on a cluster are held per team."""

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Use letters, digits, dot, dash and underscore."
            )
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> "Team":
        """The team clusters and users go to when none is named (made on first use)."""
        return cls.objects.get_or_create(name=DEFAULT_TEAM)[0]


class Membership(models.Model):
    """USER holds ROLE (viewer, operator or admin) in TEAM: one role per user and team."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        OPERATOR = "operator"
        ADMIN = "admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_once_per_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=["viewer", "operator", "admin"]),
                name="membership_role_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.team}"
