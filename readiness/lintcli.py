"""`watchkeeper-lint FILE...`: the Compose lint as a CI tool. No database, no Django settings.

The same rules and severities as `manage.py readiness lint`; several files; `-` reads stdin.
Exit codes (the spec's lint contract): 0 fine; 2 a file cannot be evaluated (unreadable,
malformed, too big, alias bomb); 3 with --fail-on-critical when a critical check fails;
4 when a file's score is below --fail-below. The highest code of all files wins.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

import yaml

from readiness import catalogue
from readiness.checks import FAIL
from readiness.compose import MAX_FILE_BYTES, ComposeError, compose_tree, load_compose
from readiness.context import RuleContext
from readiness.engine import Report, evaluate
from readiness.policy import Policy
from readiness.report import render, to_dict

EXIT_ERROR = 2
EXIT_CRITICAL = 3
EXIT_BELOW = 4
FORMATS = ("text", "json", "junit", "sarif")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVELS = {"critical": "error", "warning": "warning", "info": "note"}


def lint_text(text: str, *, filename: str, now: datetime, max_bytes: int = MAX_FILE_BYTES):
    """(report, service name -> (line, column)) for one file's text; ComposeError when refused."""
    snapshot, notes = load_compose(text, filename=filename, now=now, max_bytes=max_bytes)
    tree = compose_tree(text, filename=filename, max_bytes=max_bytes)
    places: dict[str, tuple[int, int]] = {}
    if isinstance(tree, yaml.MappingNode):
        for key, value in tree.value:
            if getattr(key, "value", None) == "services" and isinstance(value, yaml.MappingNode):
                for name, _spec in value.value:
                    places[str(name.value)] = (name.start_mark.line + 1, name.start_mark.column + 1)
    context = RuleContext(now=now, runtime=False)
    report = evaluate(snapshot, Policy(), context, rules=catalogue.lint_rules(), notes=notes)
    return report, places


def to_sarif(results: list[tuple[str, Report, dict]], errors: list[tuple[str, str]]) -> dict:
    """One SARIF 2.1.0 log for every file: one result per failed check, located at its service."""
    rules = catalogue.lint_rules()
    index = {rule.id: position for position, rule in enumerate(rules)}
    driver_rules = [
        {
            "id": rule.id,
            "name": rule.id.replace(".", "-"),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.rationale},
            "help": {"text": rule.remediation_for("the service")},
            "defaultConfiguration": {"level": _LEVELS.get(rule.severity, "warning")},
            "properties": {"category": rule.category, "severity": rule.severity},
        }
        for rule in rules
    ]
    sarif_results = []
    for filename, report, places in results:
        for item in report.checks:
            if item.status != FAIL:
                continue
            location: dict = {"artifactLocation": {"uri": filename}}
            place = places.get(item.object.name)
            if place:
                location["region"] = {"startLine": place[0], "startColumn": place[1]}
            result = {
                "ruleId": item.rule,
                "level": _LEVELS.get(item.severity, "warning"),
                "message": {"text": f"{item.message} Fix: {item.remediation}"},
                "locations": [{"physicalLocation": location}],
            }
            if item.rule in index:
                result["ruleIndex"] = index[item.rule]
            sarif_results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": filename}}}],
        }
        for filename, message in errors
    ]
    run: dict = {
        "tool": {
            "driver": {
                "name": "watchkeeper-lint",
                "rules": driver_rules,
            }
        },
        "results": sarif_results,
        "invocations": [
            {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}
        ],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    with open(name, encoding="utf-8") as handle:
        return handle.read()


def _exit_code(report: Report, args) -> int:
    if args.fail_on_critical and report.score.grade_capped:
        return EXIT_CRITICAL
    if args.fail_below is not None and report.score.score < args.fail_below:
        return EXIT_BELOW
    return 0


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="watchkeeper-lint",
        description="Apply Watchkeeper's service-level readiness rules to Compose / stack files.",
    )
    made.add_argument("files", nargs="+", metavar="FILE", help="Compose file, or - for stdin")
    made.add_argument("--format", choices=FORMATS, default="text")
    made.add_argument("--only-failed", action="store_true")
    made.add_argument("--fail-below", type=int, metavar="N")
    made.add_argument("--fail-on-critical", action="store_true")
    made.add_argument(
        "--max-bytes", type=int, default=MAX_FILE_BYTES, help="largest file accepted (bytes)"
    )
    return made


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    now = datetime.now(UTC)
    code = 0
    results: list[tuple[str, Report, dict]] = []
    errors: list[tuple[str, str]] = []
    for name in args.files:
        label = "<stdin>" if name == "-" else name
        try:
            text = _read(name)
            report, places = lint_text(text, filename=label, now=now, max_bytes=args.max_bytes)
        except (OSError, UnicodeDecodeError) as exc:
            errors.append((label, f"{label}: cannot read: {exc}"))
            continue
        except ComposeError as exc:
            errors.append((label, str(exc)))
            continue
        results.append((label, report, places))
        code = max(code, _exit_code(report, args))
    for _label, message in errors:
        print(f"watchkeeper-lint: {message}", file=sys.stderr)
    if errors:
        code = max(code, EXIT_ERROR) if code != EXIT_CRITICAL else code
    if args.format == "sarif":
        sys.stdout.write(json.dumps(to_sarif(results, errors), indent=2) + "\n")
    elif args.format == "json" and len(args.files) > 1:
        files = [
            {"file": label} | to_dict(r, only_failed=args.only_failed) for label, r, _ in results
        ]
        sys.stdout.write(json.dumps(files, indent=2) + "\n")
    else:
        for label, report, _places in results:
            if args.format == "text" and len(args.files) > 1:
                sys.stdout.write(f"== {label}\n")
            sys.stdout.write(render(report, args.format, only_failed=args.only_failed))
    return code


if __name__ == "__main__":
    sys.exit(main())
