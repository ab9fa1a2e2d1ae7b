"""`manage.py token create USER --scope read|operate|admin --expires DAYS`, `token list`,
`token revoke PREFIX`.

The secret is printed once by `create` and never again (only its SHA-256 is stored).
Exit 2 with a clear message on bad input; nothing is stored then.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from accounts import selectors, services, tokens
from audit.commands import AuditedCommand
from watchkeeper.timefmt import iso_utc


class Command(AuditedCommand):
    help = "API tokens: create (printed once), list, revoke."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token for USER and print it once")
        create.add_argument("user", help="username")
        create.add_argument("--scope", choices=tokens.SCOPES, required=True)
        create.add_argument(
            "--expires",
            type=int,
            default=tokens.DEFAULT_DAYS,
            metavar="DAYS",
            help=f"days until it expires (1-{tokens.MAX_DAYS}, default {tokens.DEFAULT_DAYS})",
        )
        create.add_argument("--name", default="", help="what the token is for")
        listing = actions.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", default=None)
        revoke = actions.add_parser("revoke", help="revoke a token by its shown prefix")
        revoke.add_argument("prefix", help="the token's prefix as `token list` shows it")

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    @staticmethod
    def _user(username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}", returncode=2)
        return user

    def handle_create(self, *, user, scope, expires, name, **_):
        person = self._user(user)
        try:
            token, secret = services.token_create(
                user=person, scope=scope, days=expires, name=name, now=timezone.now()
            )
        except ValidationError as exc:
            raise CommandError(exc.messages[0], returncode=2) from None
        self.stdout.write(secret)
        self.stderr.write(
            f"Token {token.prefix}… for {person.get_username()} ({scope}), expires "
            f"{iso_utc(token.expires_at)}. It is shown once: store it now."
        )

    def handle_list(self, *, user, **_):
        person = self._user(user) if user else None
        now = timezone.now()
        rows = list(selectors.token_list(user=person))
        if not rows:
            self.stdout.write("no tokens")
        for token in rows:
            if token.revoked_at:
                state = f"revoked {iso_utc(token.revoked_at)}"
            elif token.expires_at <= now:
                state = f"expired {iso_utc(token.expires_at)}"
            else:
                state = f"expires {iso_utc(token.expires_at)}"
            used = iso_utc(token.last_used_at) or "never"
            self.stdout.write(
                f"{token.prefix}  {token.user.get_username():20} {token.scope:8} {state}  "
                f"last used {used}  {token.name}"
            )

    def handle_revoke(self, *, prefix, **_):
        matches = list(selectors.token_list().filter(prefix=prefix.rstrip("…")))
        if not matches:
            raise CommandError(f"no token with prefix {prefix!r}", returncode=2)
        if len(matches) > 1:
            raise CommandError(
                f"{len(matches)} tokens share the prefix {prefix!r}; revoke them from the "
                "users' profile pages",
                returncode=2,
            )
        token = matches[0]
        if services.token_revoke(token=token, now=timezone.now()):
            self.stdout.write(f"revoked {token.prefix}… of {token.user.get_username()}")
        else:
            self.stdout.write(f"{token.prefix}… was revoked already")
