"""Per-user preferences."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """A user's preferences: the time zone pages are shown in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
