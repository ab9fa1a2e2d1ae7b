"""Which provider account (issuer + `sub`) a Watchkeeper user is."""

from django.conf import settings
from django.db import models


class Identity(models.Model):
    """A user's single sign-on identity: the provider's stable subject, never the email.

    `sub` is unique per issuer and never reassigned (OpenID Connect Core 5.7); an email
    address can change hands, so it is only copied onto the user for display.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_sub")
        ]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.user} = {self.subject} at {self.issuer}"
