"""Fix first: the changes that raise an evaluation's score most, in the order to make them.

Pure code, no Django. A *change* is one rule on the failing objects that share one remediation
command: the checks of a rule whose remediation texts are identical once each object's own name
is replaced by ``{name}`` form one change (the same command, run for each object); a check
whose text differs after that (a command of its own) is a change alone. Info checks weigh
nothing and are never a change; waived and not evaluated checks are not failures.

Each change's gain is the score difference the score formula (``scoring.score_of``) gives when
its checks pass, on top of the changes listed before it; ``grade_after`` is the grade reached
once it and every change before it are made ("fix these 3 to reach B").

Order, one change at a time (each step sees the changes already chosen as made):

1. while the cap holds the grade down (a critical check fails and the score alone would give
   A or B), changes that fix critical checks come first: the cap lifts only when none is
   left, whatever the points (fixing the last one reaches the higher grade, so it leads);
2. then the grade reached (higher first), then the gain (higher first);
3. ties: severity (critical first), rule id, more objects first, then the first object's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from readiness.checks import CRITICAL, FAIL, INFO, Check, Obj, severity_rank
from readiness.scoring import GRADES, RuleScore, capped_grade, grade_of, rule_scores, score_of

LIMIT = 5
GRADE_RANK = {letter: rank for rank, (letter, _) in enumerate(GRADES)}
NAME_CHARS = r"\w.\-"


@dataclass(frozen=True)
class Fix:
    """One change: RULE made to pass on OBJECTS, with what it gains."""

    rule: str
    category: str
    severity: str
    objects: tuple[Obj, ...]
    remediation: str  # the first object's command; the others' differ only by the name
    gain: int  # points, on top of the changes listed before this one
    score_after: int  # the score once this change and those before it are made
    grade_after: str

    def to_dict(self) -> dict:
        """The report's ``fix_first`` entry: rule, objects, gain, grade_after."""
        return {
            "rule": self.rule,
            "objects": [{"type": o.type, "id": o.id, "name": o.name} for o in self.objects],
            "gain": self.gain,
            "grade_after": self.grade_after,
        }


def _name_char(char: str) -> bool:
    """A character that may be part of a name (NAME_CHARS: word characters, dot, hyphen)."""
    return char.isalnum() or char in "_.-"


def command_of(remediation: str, name: str) -> str:
    """REMEDIATION with the object's own NAME (as a whole word) replaced by ``{name}``.

    Plain string search, not a regular expression per name: a swarm has thousands of names,
    each compiled pattern would be used once."""
    text = " ".join(remediation.split())
    if not name:
        return text
    parts, done, size = [], 0, len(name)
    found = text.find(name)
    while found != -1:
        end = found + size
        whole = (found == 0 or not _name_char(text[found - 1])) and (
            end == len(text) or not _name_char(text[end])
        )
        if whole:
            parts += [text[done:found], "{name}"]
            done = end
        found = text.find(name, end if whole else found + 1)
    parts.append(text[done:])
    return "".join(parts)


@dataclass
class _Change:
    rule: str
    category: str
    severity: str
    checks: list

    @property
    def sort_name(self) -> str:
        return self.checks[0].object.name


def changes_of(failing: Iterable[Check]) -> list[_Change]:
    """The candidate changes: failing, scored checks grouped by rule and command."""
    groups: dict[tuple[str, str], _Change] = {}
    for item in failing:
        if item.status != FAIL or item.severity == INFO:
            continue
        key = (item.rule, command_of(item.remediation, item.object.name))
        change = groups.get(key)
        if change is None:
            change = groups[key] = _Change(item.rule, item.category, item.severity, [])
        change.checks.append(item)
    for change in groups.values():
        change.checks.sort(key=lambda c: (c.object.name, c.object.type, c.object.id))
    return list(groups.values())


def fix_first(
    checks: Iterable[Check], *, counted_passes: dict[str, list] | None = None, limit: int = LIMIT
) -> list[Fix]:
    """The first LIMIT changes of an evaluation's CHECKS (COUNTED_PASSES as in score_checks)."""
    checks = list(checks)
    return fix_first_from(rule_scores(checks, counted_passes), checks, limit=limit)


def fix_first_from(
    rules: Iterable[RuleScore], failing: Iterable[Check], *, limit: int = LIMIT
) -> list[Fix]:
    """The first LIMIT changes, from a stored evaluation: its rule tallies (RULES, as the score
    counted them) and its checks (every failing one must be among FAILING; others are ignored).
    """
    tally = {r.rule: r for r in rules}
    candidates = changes_of(failing)
    critical_left = sum(len(c.checks) for c in candidates if c.severity == CRITICAL)
    score = score_of(tally.values())
    chosen: list[Fix] = []
    while candidates and len(chosen) < limit:
        held = critical_left > 0 and grade_of(score) in ("A", "B")
        best = None
        for change in _contenders(candidates):
            fixed = len(change.checks)
            before = tally[change.rule]
            after_rule = replace(before, passed=before.passed + fixed, failed=before.failed - fixed)
            after = score_of(after_rule if r is before else r for r in tally.values())
            left = critical_left - (fixed if change.severity == CRITICAL else 0)
            grade = capped_grade(after, left > 0)
            key = (
                0 if held and change.severity == CRITICAL else 1,
                GRADE_RANK[grade],
                -(after - score),
                severity_rank(change.severity),
                change.rule,
                -fixed,
                change.sort_name,
            )
            if best is None or key < best[0]:
                best = (key, change, after_rule, after, grade, left)
        _, change, after_rule, after, grade, critical_left = best
        tally[change.rule] = after_rule
        candidates.remove(change)
        chosen.append(
            Fix(
                rule=change.rule,
                category=change.category,
                severity=change.severity,
                objects=tuple(c.object for c in change.checks),
                remediation=" ".join(change.checks[0].remediation.split()),
                gain=after - score,
                score_after=after,
                grade_after=grade,
            )
        )
        score = after
    return chosen


def _contenders(candidates: list[_Change]) -> list[_Change]:
    """Per rule, the change with the most objects (first by name on a tie): of one rule's
    changes it gains the most points and comes first on every tie, so it is the only one that
    can be chosen next."""
    best: dict[str, _Change] = {}
    for change in candidates:
        held = best.get(change.rule)
        if held is None or (-len(change.checks), change.sort_name) < (
            -len(held.checks),
            held.sort_name,
        ):
            best[change.rule] = change
    return list(best.values())
