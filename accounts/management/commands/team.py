"""`manage.py team add NAME`, `team list`, `team member NAME USER ROLE|remove`,
`team remove NAME`.

Exit 2 with a clear message on bad input; nothing is stored then. Every change is audited
(via cli).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accounts import selectors, teams
from accounts.models import Team
from accounts.roles import ROLES
from audit.commands import AuditedCommand

REMOVE = "remove"


class Command(AuditedCommand):
    help = "Teams: add, list, set a member's role (or remove the member), remove a team."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="make a team")
        add.add_argument("name")
        actions.add_parser("list", help="every team with its members and their roles")
        member = actions.add_parser(
            "member", help="give USER ROLE in team NAME, or take USER out with 'remove'"
        )
        member.add_argument("name")
        member.add_argument("user", help="username")
        member.add_argument("role", choices=[*ROLES, REMOVE])
        remove = actions.add_parser("remove", help="delete a team that owns no cluster")
        remove.add_argument("name")

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"handle_{action}")(**options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=2) from None

    @staticmethod
    def _team(name: str) -> Team:
        team = Team.objects.filter(name=name).first()
        if team is None:
            raise CommandError(f"no team named {name!r}", returncode=2)
        return team

    def handle_add(self, *, name, **_):
        team = teams.team_create(name=name)
        self.stdout.write(f"added team {team.name}")

    def handle_list(self, **_):
        rows = list(selectors.teams_with_members())
        if not rows:
            self.stdout.write("no teams")
        for team in rows:
            members = ", ".join(
                f"{m.user.get_username()} ({m.role})" for m in team.memberships.all()
            )
            self.stdout.write(f"{team.name}: {members or 'no members'}")

    def handle_member(self, *, name, user, role, **_):
        team = self._team(name)
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"no user named {user!r}", returncode=2)
        teams.membership_set(team=team, user=person, role=None if role == REMOVE else role)
        if role == REMOVE:
            self.stdout.write(f"{user} is no longer in {team.name}")
        else:
            self.stdout.write(f"{user} is {role} in {team.name}")

    def handle_remove(self, *, name, **_):
        team = self._team(name)
        teams.team_delete(team=team)
        self.stdout.write(f"removed team {name}")
