"""Management commands: changes are attributed to the command and the OS user, via=cli."""

import getpass

from django.core.management.base import BaseCommand

from audit import services as audit


class AuditedCommand(BaseCommand):
    def execute(self, *args, **options):
        command = type(self).__module__.rsplit(".", 1)[-1]
        actor = audit.Actor(via="cli", name=getpass.getuser(), command=command)
        with audit.acting(actor):
            return super().execute(*args, **options)
