"""The cluster page's scorecard, built from a readiness report (the fixed JSON report shape).

Pure code: it explains a score rule by rule (weight, pass fraction, contribution: the
arithmetic is readiness.scoring.contribution, the one the stored report uses) and groups
failing checks by category for display.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from readiness.checks import WEIGHTS, severity_rank
from readiness.scoring import contribution


@dataclass(frozen=True)
class RuleLine:
    """One rule's part in the score."""

    rule: str
    category: str
    severity: str
    weight: int
    passed: int
    failed: int
    waived: int

    @property
    def scored(self) -> bool:
        return self.passed + self.failed > 0

    @property
    def pass_fraction(self) -> Fraction | None:
        return Fraction(self.passed, self.passed + self.failed) if self.scored else None

    @property
    def pass_percent(self) -> int | None:
        fraction = self.pass_fraction
        return None if fraction is None else int(100 * fraction)


@dataclass(frozen=True)
class ExplainedRule:
    line: RuleLine
    contribution: float  # points of the 100 this rule adds (weight * p / total weight * 100)
    lost: float  # points this rule costs


@dataclass(frozen=True)
class Category:
    name: str
    score: int | None
    rules: int


@dataclass
class Scorecard:
    score: int
    grade: str
    grade_capped: bool
    summary: dict
    categories: list[Category]
    explained: list[ExplainedRule]
    total_weight: int
    failing: dict[str, list[dict]] = field(default_factory=dict)  # category -> failing checks


def rule_lines(checks: list[dict]) -> list[RuleLine]:
    """Per rule: its severity as scored and counts of passed, failed and waived checks."""
    return lines_from_counts(
        (check["rule"], check["category"], check["severity"], check["status"], 1)
        for check in checks
    )


def lines_from_counts(counts: Iterable[tuple[str, str, str, str, int]]) -> list[RuleLine]:
    """Rule lines from (rule, category, severity, status, count) rows, as counted in SQL.

    A rule's category and severity are those of its first row."""
    entries: dict[str, dict] = {}
    for rule, category, severity, status, count in counts:
        entry = entries.setdefault(
            rule,
            {"category": category, "severity": severity, "pass": 0, "fail": 0, "waived": 0},
        )
        entry[status] = entry.get(status, 0) + count
    return [
        RuleLine(
            rule=rule,
            category=entry["category"],
            severity=entry["severity"],
            weight=WEIGHTS.get(entry["severity"], 0),
            passed=entry["pass"],
            failed=entry["fail"],
            waived=entry["waived"],
        )
        for rule, entry in entries.items()
    ]


def _lines_from_rules(rules: list[dict], from_checks: list[RuleLine]) -> list[RuleLine]:
    """The readiness app's own per-rule explanation, completed with waived and info rules."""
    waived = {line.rule: line.waived for line in from_checks}
    lines = [
        RuleLine(
            rule=r["rule"],
            category=r["category"],
            severity=r["severity"],
            weight=r["weight"],
            passed=r["passed"],
            failed=r["failed"],
            waived=waived.get(r["rule"], 0),
        )
        for r in rules
    ]
    known = {line.rule for line in lines}
    return lines + [line for line in from_checks if line.rule not in known]


def explain(lines: list[RuleLine]) -> tuple[list[ExplainedRule], int]:
    """Each scored rule's contribution to the score; rules losing the most points first."""
    scored = [line for line in lines if line.scored and line.weight > 0]
    total = sum(line.weight for line in scored)
    explained = []
    for line in lines:
        points, share = (
            contribution(line.weight, line.passed, line.failed, total)
            if line.weight > 0
            else (0.0, 0.0)
        )
        explained.append(ExplainedRule(line, points, share - points))
    explained.sort(
        key=lambda e: (
            -e.lost,
            severity_rank(e.line.severity),
            e.line.category,
            e.line.rule,
        )
    )
    return explained, total


def scorecard_from_report(report: dict) -> Scorecard:
    """Build the scorecard of one evaluation from its report dictionary."""
    checks = report.get("checks", [])
    failing: dict[str, list[dict]] = defaultdict(list)
    for check in checks:
        if check["status"] == "fail":
            failing[check["category"]].append(check)
    for items in failing.values():
        items.sort(key=lambda c: (severity_rank(c["severity"]), c["rule"]))
    return _scorecard(report, rule_lines(checks), dict(sorted(failing.items())))


def scorecard_from_counts(
    report: dict, counts: Iterable[tuple[str, str, str, str, int]]
) -> Scorecard:
    """The scorecard of a report given without its checks, from their per-rule status counts
    (see lines_from_counts); its failing checks are left to the caller, who pages them."""
    return _scorecard(report, lines_from_counts(counts), {})


def _scorecard(report: dict, lines: list[RuleLine], failing: dict[str, list[dict]]) -> Scorecard:
    if report.get("rules"):
        lines = _lines_from_rules(report["rules"], lines)
    explained, total = explain(lines)
    categories = [
        Category(name=name, score=values.get("score"), rules=values.get("rules", 0))
        for name, values in sorted(report.get("categories", {}).items())
    ]
    return Scorecard(
        score=report["score"],
        grade=report["grade"],
        grade_capped=report.get("grade_capped", False),
        summary=report.get("summary", {}),
        categories=categories,
        explained=explained,
        total_weight=total,
        failing=failing,
    )
