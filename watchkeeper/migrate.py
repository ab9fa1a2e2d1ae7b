"""`python -m watchkeeper.migrate`: migrate once even when several replicas start together.

On PostgreSQL the migration runs under a session advisory lock, so concurrent starts wait for
each other and the later ones find nothing left to do.
"""

import os
import sys

MIGRATION_LOCK = 0x57_4B_4D_49  # "WKMI"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchkeeper.settings")
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False)
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            call_command("migrate", interactive=False)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
    return 0


if __name__ == "__main__":
    sys.exit(main())
