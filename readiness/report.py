"""Render a Report as JSON, text or JUnit XML: the same content in three formats. Pure code."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from readiness.checks import FAIL, NOT_EVALUATED, WAIVED
from readiness.engine import Report
from watchkeeper.timefmt import iso_utc

FORMATS = ("text", "json", "junit")


def _checks(report: Report, only_failed: bool):
    return [c for c in report.checks if c.status == FAIL] if only_failed else report.checks


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
    }


def render_json(report: Report, *, only_failed: bool = False) -> str:
    return json.dumps(to_dict(report, only_failed=only_failed), indent=2)


def render_text(report: Report, *, only_failed: bool = False) -> str:
    score = report.score
    summary = report.summary
    title = report.cluster if report.cluster is not None else "compose file"
    lines = [
        f"Readiness of {title} ({report.environment}): {score.score}/100, grade {score.grade}",
    ]
    if score.grade_capped:
        lines.append("Grade capped at C: a critical check fails.")
    lines.append(
        "Failing: {critical} critical, {warning} warning, {info} info; "
        "{waived} waived, {passed} passed".format(**summary)
    )
    lines.append("")
    lines.append("Categories:")
    for name, data in score.categories.items():
        lines.append(f"  {name:<14} {data['score']:>3}  ({data['rules']} rules scored)")
    for note in report.notes:
        lines.append(f"Note: {note}")
    lines.append("")
    marks = {"pass": "PASS", "fail": "FAIL", WAIVED: "WAIVED", NOT_EVALUATED: "NOT EVALUATED"}
    for item in _checks(report, only_failed):
        lines.append(
            f"[{marks[item.status]}] {item.severity:<8} {item.rule} "
            f"({item.object.type} {item.object.name}): {item.message}"
        )
        if item.status == FAIL:
            lines.append(f"    fix: {' '.join(item.remediation.split())}")
    return "\n".join(lines) + "\n"


def render_junit(report: Report, *, only_failed: bool = False) -> str:
    """JUnit XML: one test suite per category, one test case per check."""
    checks = _checks(report, only_failed)
    root = ET.Element(
        "testsuites",
        name=f"readiness {report.cluster or 'lint'}",
        tests=str(len(checks)),
        failures=str(sum(1 for c in checks if c.status == FAIL)),
        skipped=str(sum(1 for c in checks if c.status in (WAIVED, NOT_EVALUATED))),
    )
    properties = ET.SubElement(root, "properties")
    for key in ("score", "grade", "grade_capped"):
        ET.SubElement(properties, "property", name=key, value=str(getattr(report.score, key)))
    for category in dict.fromkeys(c.category for c in checks):
        in_category = [c for c in checks if c.category == category]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=category,
            tests=str(len(in_category)),
            failures=str(sum(1 for c in in_category if c.status == FAIL)),
            skipped=str(sum(1 for c in in_category if c.status in (WAIVED, NOT_EVALUATED))),
        )
        for item in in_category:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=item.rule,
                name=f"{item.object.type} {item.object.name}",
            )
            if item.status == FAIL:
                failure = ET.SubElement(case, "failure", message=item.message, type=item.severity)
                failure.text = item.remediation
            elif item.status in (WAIVED, NOT_EVALUATED):
                ET.SubElement(case, "skipped", message=f"{item.status}: {item.message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def render(report: Report, fmt: str, *, only_failed: bool = False) -> str:
    renderers = {"json": render_json, "text": render_text, "junit": render_junit}
    return renderers[fmt](report, only_failed=only_failed)
