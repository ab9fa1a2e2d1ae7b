"""Score, category scores, grade and the critical cap, from a list of checks. Pure code.

For rule r: p_r = passed / (passed + failed) over its non-waived checks; rules without such
checks are left out. score = floor(100 * sum(w_r * p_r) / sum(w_r)), 100 when nothing is
scored. Any failing, non-waived critical check caps the grade at C.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from readiness.checks import CRITICAL, FAIL, PASS, WEIGHTS, Check

GRADES = (("A", 90), ("B", 80), ("C", 70), ("D", 60), ("F", 0))
CAP = "C"


def contribution(weight: int, passed: int, failed: int, total_weight: int) -> tuple[float, float]:
    """The explanation of a score, per rule: (points of the 100 the rule adds, points it could
    add) = (100 * w * p / sum(w), 100 * w / sum(w)); (0, 0) for a rule with nothing scored.
    The stored report (RuleScore.to_dict) and the cluster page's scorecard both use it."""
    if not total_weight or not passed + failed:
        return 0.0, 0.0
    share = 100 * weight / total_weight
    return share * (passed / (passed + failed)), share


@dataclass(frozen=True)
class RuleScore:
    """How one rule contributes: the explanation of a score."""

    rule: str
    category: str
    severity: str
    weight: int
    passed: int
    failed: int

    @property
    def fraction(self) -> float:
        return self.passed / (self.passed + self.failed)

    def to_dict(self, total_weight: int) -> dict:
        points, share = contribution(self.weight, self.passed, self.failed, total_weight)
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "weight": self.weight,
            "passed": self.passed,
            "failed": self.failed,
            "fraction": round(self.fraction, 4),
            "contribution": round(points, 2),
            "max_contribution": round(share, 2),
        }


@dataclass(frozen=True)
class Score:
    score: int
    grade: str
    grade_capped: bool
    categories: dict[str, dict[str, int]]
    rules: list[RuleScore]

    @property
    def total_weight(self) -> int:
        return sum(r.weight for r in self.rules)


def rule_scores(
    checks: Iterable[Check], counted_passes: dict[str, list] | None = None
) -> list[RuleScore]:
    """One RuleScore per rule with at least one pass or fail (waived checks left out).

    COUNTED_PASSES (rule id -> [category, severity, count], in rule order) adds passes that
    are not among CHECKS; see engine.run_rules.
    """
    tally: dict[str, list] = {
        rule: [category, severity, count, 0]
        for rule, (category, severity, count) in (counted_passes or {}).items()
    }
    for item in checks:
        if item.status not in (PASS, FAIL):
            continue
        entry = tally.setdefault(item.rule, [item.category, item.severity, 0, 0])
        entry[2 if item.status == PASS else 3] += 1
    return [
        RuleScore(rule, category, severity, WEIGHTS[severity], passed, failed)
        for rule, (category, severity, passed, failed) in tally.items()
        if passed or failed
    ]


def score_of(rules: Iterable[RuleScore]) -> int:
    """floor(100 * sum(w * p) / sum(w)) with exact fractions; 100 when nothing is scored."""
    rules = list(rules)
    total = sum(r.weight for r in rules)
    if total == 0:
        return 100
    weighted = sum(Fraction(r.weight * r.passed, r.passed + r.failed) for r in rules)
    return math.floor(100 * weighted / total)


def grade_of(score: int) -> str:
    return next(letter for letter, floor in GRADES if score >= floor)


def capped_grade(score: int, capped: bool) -> str:
    """The grade of SCORE, at most C when CAPPED (a critical check fails)."""
    grade = grade_of(score)
    return CAP if capped and grade in ("A", "B") else grade


def has_failing_critical(checks: Iterable[Check]) -> bool:
    return any(c.status == FAIL and c.severity == CRITICAL for c in checks)


def score_checks(
    checks: Iterable[Check],
    categories: Iterable[str] = (),
    *,
    counted_passes: dict[str, list] | None = None,
) -> Score:
    """The full score of an evaluation; CATEGORIES lists the categories to report.

    COUNTED_PASSES: passes counted instead of listed in CHECKS (see rule_scores).
    """
    checks = list(checks)
    rules = rule_scores(checks, counted_passes)
    score = score_of(rules)
    capped = has_failing_critical(checks)
    grade = capped_grade(score, capped)
    counted = (entry[0] for entry in (counted_passes or {}).values() if entry[2])
    names = list(dict.fromkeys([*categories, *counted, *(c.category for c in checks)]))
    per_category = {}
    for name in names:
        in_category = [r for r in rules if r.category == name]
        per_category[name] = {"score": score_of(in_category), "rules": len(in_category)}
    return Score(score, grade, capped, per_category, rules)
