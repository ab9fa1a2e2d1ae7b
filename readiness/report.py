"""Render a Report as JSON, text or JUnit XML: the same content in three formats. Pure code."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

from readiness.checks import FAIL, NOT_EVALUATED, PENDING, UNSCORED, WAIVED
from readiness.engine import Report
from readiness.fixfirst import Fix, fix_first
from watchkeeper.timefmt import iso_utc

FORMATS = ("text", "json", "junit")
# Control characters (a cluster's labels, env var names and paths may carry them): the text
# report shows them escaped so they cannot drive the terminal; JUnit XML cannot hold most.
TERMINAL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _escape(match: re.Match) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str) -> str:
    """TEXT for a terminal: every control character shown as \\xNN (newlines too)."""
    return TERMINAL_CONTROL.sub(_escape, text)


def xml_safe(text: str) -> str:
    """TEXT as XML 1.0 can carry it: invalid characters shown as \\xNN."""
    return XML_INVALID.sub(_escape, text)


def _checks(report: Report, only_failed: bool):
    return [c for c in report.checks if c.status == FAIL] if only_failed else report.checks


def _fix_first(report: Report) -> list[Fix]:
    """The report's first changes to make, from all its checks (whatever --only-failed)."""
    return fix_first(report.checks, counted_passes=report.counted_passes)


def to_dict(report: Report, *, only_failed: bool = False) -> dict:
    """The report shape of the spec (plus ``rules``, the score's explanation, and ``notes``)."""
    score = report.score
    total = score.total_weight
    return {
        "cluster": report.cluster,
        "environment": report.environment,
        "snapshot_at": iso_utc(report.snapshot_at),
        "evaluated_at": iso_utc(report.evaluated_at),
        "score": score.score,
        "grade": score.grade,
        "grade_capped": score.grade_capped,
        "categories": score.categories,
        "summary": report.summary,
        "checks": [c.to_dict() for c in _checks(report, only_failed)],
        "rules": [r.to_dict(total) for r in score.rules],
        "notes": report.notes,
        "fix_first": [fix.to_dict() for fix in _fix_first(report)],
    }


def render_json(report: Report, *, only_failed: bool = False) -> str:
    return json.dumps(to_dict(report, only_failed=only_failed), indent=2)


def render_text(report: Report, *, only_failed: bool = False) -> str:
    score = report.score
    summary = report.summary
    title = printable(report.cluster) if report.cluster is not None else "compose file"
    lines = [
        f"Readiness of {title} ({report.environment}): {score.score}/100, grade {score.grade}",
    ]
    if score.grade_capped:
        lines.append("Grade capped at C: a critical check fails.")
    if report.snapshot_at is not None:
        lines.append(
            f"Snapshot {iso_utc(report.snapshot_at)}, evaluated {iso_utc(report.evaluated_at)}"
        )
    else:
        lines.append(f"Evaluated {iso_utc(report.evaluated_at)}")
    lines.append(
        "Failing: {critical} critical, {warning} warning, {info} info; "
        "{waived} waived, {passed} passed".format(**summary)
    )
    lines.append("")
    lines.append("Categories:")
    for name, data in score.categories.items():
        lines.append(f"  {name:<14} {data['score']:>3}  ({data['rules']} rules evaluated)")
    for note in report.notes:
        lines.append(f"Note: {printable(note)}")
    fixes = _fix_first(report)
    if fixes:
        lines.append("")
        lines.append("Fix first:")
        for n, fix in enumerate(fixes, start=1):
            names = ", ".join(printable(o.name) for o in fix.objects)
            lines.append(
                f"  {n}. {fix.rule} ({fix.objects[0].type} {names}): +{fix.gain} points, "
                f"grade {fix.grade_after} with {'it' if n == 1 else f'these {n}'}"
            )
            lines.append(f"     fix: {printable(fix.remediation)}")
    lines.append("")
    marks = {
        "pass": "PASS",
        "fail": "FAIL",
        WAIVED: "WAIVED",
        NOT_EVALUATED: "NOT EVALUATED",
        PENDING: "PENDING",
    }
    for item in _checks(report, only_failed):
        lines.append(
            f"[{marks[item.status]}] {item.severity:<8} {item.rule} "
            f"({item.object.type} {printable(item.object.name)}): {printable(item.message)}"
        )
        if item.status == FAIL:
            lines.append(f"    fix: {printable(' '.join(item.remediation.split()))}")
    return "\n".join(lines) + "\n"


def _junit_properties(report: Report) -> list[tuple[str, str]]:
    """The report's own fields as (name, value) pairs: what the JSON holds besides the checks."""
    score = report.score
    pairs = [
        ("cluster", report.cluster or ""),
        ("environment", report.environment),
        ("snapshot_at", iso_utc(report.snapshot_at) or ""),
        ("evaluated_at", iso_utc(report.evaluated_at)),
        ("score", str(score.score)),
        ("grade", score.grade),
        ("grade_capped", str(score.grade_capped)),
    ]
    pairs += [(f"summary.{key}", str(value)) for key, value in report.summary.items()]
    for name, category in score.categories.items():
        pairs += [(f"categories.{name}.{key}", str(value)) for key, value in category.items()]
    pairs += [("note", note) for note in report.notes]
    for n, fix in enumerate(_fix_first(report), start=1):
        pairs += [
            (f"fix_first.{n}.rule", fix.rule),
            (f"fix_first.{n}.objects", ", ".join(o.name for o in fix.objects)),
            (f"fix_first.{n}.gain", str(fix.gain)),
            (f"fix_first.{n}.grade_after", fix.grade_after),
        ]
    return pairs


def render_junit(report: Report, *, only_failed: bool = False) -> str:
    """JUnit XML: one test suite per category, one test case per check."""
    checks = _checks(report, only_failed)
    root = ET.Element(
        "testsuites",
        name=xml_safe(f"readiness {report.cluster or 'lint'}"),
        tests=str(len(checks)),
        failures=str(sum(1 for c in checks if c.status == FAIL)),
        skipped=str(sum(1 for c in checks if c.status in (WAIVED, *UNSCORED))),
    )
    properties = ET.SubElement(root, "properties")
    for key, value in _junit_properties(report):
        ET.SubElement(properties, "property", name=key, value=xml_safe(value))
    for category in dict.fromkeys(c.category for c in checks):
        in_category = [c for c in checks if c.category == category]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=category,
            tests=str(len(in_category)),
            failures=str(sum(1 for c in in_category if c.status == FAIL)),
            skipped=str(sum(1 for c in in_category if c.status in (WAIVED, *UNSCORED))),
        )
        for item in in_category:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=item.rule,
                name=xml_safe(f"{item.object.type} {item.object.name}"),
            )
            facts = ET.SubElement(case, "properties")
            for key in ("severity", "status"):
                ET.SubElement(facts, "property", name=key, value=getattr(item, key))
            ET.SubElement(facts, "property", name="object_id", value=xml_safe(item.object.id))
            message = xml_safe(item.message)
            if item.status == FAIL:
                failure = ET.SubElement(case, "failure", message=message, type=item.severity)
                failure.text = xml_safe(item.remediation)
            elif item.status in (WAIVED, *UNSCORED):
                ET.SubElement(case, "skipped", message=f"{item.status}: {message}")
            else:
                ET.SubElement(case, "system-out").text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def render(report: Report, fmt: str, *, only_failed: bool = False) -> str:
    renderers = {"json": render_json, "text": render_text, "junit": render_junit}
    return renderers[fmt](report, only_failed=only_failed)
