"""Create the first admin account if none exists, printing its password once."""

from django.core.management.base import BaseCommand

from accounts.services import admin_ensure


class Command(BaseCommand):
    help = "Create an admin account when none exists and print its generated password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        created = admin_ensure(username=username)
        if created is None:
            self.stdout.write("An admin account exists already.")
            return
        name, password = created
        self.stdout.write(
            self.style.SUCCESS(f"Created admin account {name!r} with password: {password}")
        )
        self.stdout.write("This password is shown once; change it under Account > Password.")
