"""`manage.py readiness report NAME` and `manage.py readiness lint FILE`.

Exit codes: 0 fine; 2 cannot evaluate (unknown cluster, no snapshot, unreadable or malformed
file); 3 with --fail-on-critical when a critical check fails; 4 when the score is below
--fail-below.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone

from audit.commands import AuditedCommand
from clusters.models import Cluster
from dashboard import selectors as dashboard_selectors
from readiness import catalogue
from readiness.compose import MAX_FILE_BYTES, ComposeError, load_compose
from readiness.context import RuleContext
from readiness.engine import Report, evaluate
from readiness.policy import Policy
from readiness.report import FORMATS, render

EXIT_ERROR = 2
EXIT_CRITICAL = 3
EXIT_BELOW = 4


class Command(AuditedCommand):
    help = "Readiness reports of clusters, and lint of Compose / stack files."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        report = actions.add_parser("report", help="evaluate a cluster's latest snapshot")
        report.add_argument("name", help="cluster name")
        lint = actions.add_parser("lint", help="apply the service-level rules to a Compose file")
        lint.add_argument("file", help="Compose / stack file (docker-compose.yml)")
        lint.add_argument(
            "--max-bytes", type=int, default=MAX_FILE_BYTES, help="largest file accepted (bytes)"
        )
        for sub in (report, lint):
            sub.add_argument("--format", choices=FORMATS, default="text")
            sub.add_argument("--only-failed", action="store_true")
            sub.add_argument("--fail-below", type=int, metavar="N")
            sub.add_argument("--fail-on-critical", action="store_true")

    def handle(self, *args, **options):
        now = timezone.now()
        if options["action"] == "report":
            report = self._report(options["name"], now)
        else:
            report = self._lint(options["file"], now, options["max_bytes"])
        self.stdout.write(
            render(report, options["format"], only_failed=options["only_failed"]), ending=""
        )
        code = self._exit_code(report, options)
        if code:
            sys.exit(code)

    def _report(self, name: str, now) -> Report:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}", returncode=EXIT_ERROR)
        report = dashboard_selectors.cluster_report(cluster=cluster, now=now)
        if report is None:
            raise CommandError(
                f"no snapshot yet, run `manage.py cluster poll {name}`", returncode=EXIT_ERROR
            )
        return report

    def _lint(self, file: str, now, max_bytes: int = MAX_FILE_BYTES) -> Report:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read: {exc}", returncode=EXIT_ERROR) from None
        try:
            snapshot, notes = load_compose(text, filename=file, now=now, max_bytes=max_bytes)
        except ComposeError as exc:
            raise CommandError(str(exc), returncode=EXIT_ERROR) from None
        context = RuleContext(now=now, runtime=False)
        return evaluate(snapshot, Policy(), context, rules=catalogue.lint_rules(), notes=notes)

    @staticmethod
    def _exit_code(report: Report, options) -> int:
        if options.get("fail_on_critical") and report.score.grade_capped:
            return EXIT_CRITICAL
        if options["fail_below"] is not None and report.score.score < options["fail_below"]:
            return EXIT_BELOW
        return 0
