"""`manage.py sso_link USERNAME SUB`: make an existing account the user of a provider identity."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.sso import services


class Command(BaseCommand):
    help = (
        "Link an existing Watchkeeper account to the provider's subject (the `sub` claim), "
        "so that single sign-on signs that account in instead of creating a new one."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("sub", help="the provider's sub claim for this person")

    def handle(self, *args, username, sub, **options):
        config = settings.WATCHKEEPER_OIDC
        if config is None:
            raise CommandError("Single sign-on is not configured (WATCHKEEPER_OIDC_ISSUER).")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            services.link(user=user, issuer=config.issuer, subject=sub)
        except services.IdentityRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{username} now signs in as sub {sub!r} at {config.issuer}.")
