"""`manage.py audit export --format csv|json [--since ISO] [--until ISO] [--via web|api|cli]
[--action A] [--output FILE]`: the audit log, oldest first, to stdout or FILE.

Exit 2 with a clear message on a bad date; nothing is written then.
"""

from django.core.management.base import BaseCommand, CommandError

from audit import export


class Command(BaseCommand):
    help = "Export the audit log as CSV or JSON."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action_name", required=True)
        out = actions.add_parser("export", help="write events as CSV or JSON")
        out.add_argument("--format", choices=("csv", "json"), default="json")
        out.add_argument("--since", default="", help="ISO 8601 date or time (UTC if no zone)")
        out.add_argument("--until", default="", help="ISO 8601 date or time, exclusive")
        out.add_argument("--via", choices=("web", "api", "cli"), default="")
        out.add_argument("--action", default="", help="only this action (e.g. waiver.create)")
        out.add_argument("--output", default="-", help="file to write (default stdout)")

    def handle(self, *args, action_name, **options):
        try:
            filters = export.AuditFilter(
                since=export.parse_since(options["since"]),
                until=export.parse_since(options["until"]),
                via=options["via"],
                action=options["action"],
            )
        except export.FilterError as exc:
            raise CommandError(str(exc), returncode=2) from None
        rows = export.events(filters).order_by("at", "id")
        chunks = export.csv_lines(rows) if options["format"] == "csv" else export.json_chunks(rows)
        if options["output"] == "-":
            stream = self.stdout
            for chunk in chunks:
                stream.write(chunk, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8", newline="") as stream:
                for chunk in chunks:
                    stream.write(chunk)
        except OSError as exc:
            raise CommandError(
                f"cannot write {options['output']}: {exc.strerror}", returncode=2
            ) from None
        self.stderr.write(f"audit log written to {options['output']}\n")
