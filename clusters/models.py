"""Clusters: the swarms Watchkeeper watches."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from watchkeeper import crypto


def new_calendar_token() -> str:
    """An unguessable token for the per-cluster calendar feed URL."""
    return secrets.token_urlsafe(24)


def default_poll_interval() -> int:
    return settings.WATCHKEEPER_DEFAULT_POLL_INTERVAL


class Cluster(models.Model):
    """A Docker Swarm reached through one manager's Engine API."""

    class Environment(models.TextChoices):
        PRODUCTION = "production"
        STAGING = "staging"
        DEVELOPMENT = "development"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Use letters, digits, dot, dash and underscore."
            )
        ],
    )
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    url = models.CharField(
        max_length=255, help_text="unix:///path, tcp://host:2376 or ssh://user@host"
    )
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    poll_interval = models.PositiveIntegerField(
        default=default_poll_interval, validators=[MinValueValidator(5), MaxValueValidator(86400)]
    )
    enabled = models.BooleanField(default=True)
    drain_assist = models.BooleanField(default=False)
    dns_server = models.CharField(max_length=255, blank=True, default="")
    ingress_addresses = models.CharField(max_length=1024, blank=True, default="")
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_credentials(self, material: str) -> None:
        """Store TLS material or other credentials (JSON text) encrypted."""
        self.credentials_encrypted = crypto.encrypt(material) if material else ""

    def get_credentials(self) -> str:
        """Decrypt the stored credentials; only the API client should call this."""
        return crypto.decrypt(self.credentials_encrypted) if self.credentials_encrypted else ""

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class Recipient(models.Model):
    """Someone who gets a cluster's reminders and notifications: a user or an address."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    email = models.EmailField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "email"],
                condition=~models.Q(email=""),
                name="recipient_unique_email",
            ),
            models.UniqueConstraint(
                fields=["cluster", "user"],
                condition=models.Q(user__isnull=False),
                name="recipient_unique_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="") | models.Q(user__isnull=False),
                name="recipient_has_address",
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        """The email address messages go to."""
        return self.email or (self.user.email if self.user else "")
