"""Evaluate a snapshot: run the rules, adjust severities for the environment, apply waivers,
score. Pure code: no Django, no clock (``context.now``)."""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from clusters.snapshot import Snapshot
from readiness import catalogue
from readiness.checks import (
    CRITICAL,
    FAIL,
    INFO,
    NOT_EVALUATED,
    PASS,
    WAIVED,
    WARNING,
    Check,
    Obj,
    Outcome,
)
from readiness.context import DEVELOPMENT, STAGING, RuleContext
from readiness.policy import Policy
from readiness.scoring import Score, score_checks

LOWER = {CRITICAL: WARNING, WARNING: INFO, INFO: INFO}
STAGING_LOWERED = ("topology", "sizing")
DEVELOPMENT_SCORED = ("security", "config")


@dataclass(frozen=True)
class WaiverSpec:
    """A waiver as the engine sees it: which rule, and optionally which objects."""

    id: int
    rule: str
    selector: str = ""  # "" = every object; "key=value" = label; otherwise a name glob

    def matches(self, item: Check) -> bool:
        if item.rule != self.rule:
            return False
        selector = self.selector.strip()
        if not selector:
            return True
        if "=" in selector:
            key, _, value = selector.partition("=")
            return item.object.labels.get(key.strip()) == value.strip()
        return fnmatch.fnmatchcase(item.object.name, selector)


@dataclass(frozen=True)
class Report:
    """An evaluation's result, ready to store or render."""

    cluster: str | None
    environment: str
    snapshot_at: datetime | None
    evaluated_at: datetime
    checks: list[Check]
    score: Score
    notes: list[str] = field(default_factory=list)
    # evaluate(keep_passes=False): passing checks left out of ``checks``, counted per rule
    # (rule id -> [category, severity, count]); they are in the summary and the score.
    counted_passes: dict[str, list] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        failed = Counter(c.severity for c in self.checks if c.status == FAIL)
        statuses = Counter(c.status for c in self.checks)
        return {
            "critical": failed[CRITICAL],
            "warning": failed[WARNING],
            "info": failed[INFO],
            "waived": statuses[WAIVED],
            "passed": statuses[PASS] + sum(entry[2] for entry in self.counted_passes.values()),
        }


def effective_severity(rule: catalogue.Rule, environment: str) -> str:
    """The rule's severity in ENVIRONMENT (staging lowers topology/sizing; development scores
    only security and config, the rest is shown as info)."""
    if environment == STAGING and rule.category in STAGING_LOWERED:
        return LOWER[rule.severity]
    if environment == DEVELOPMENT and rule.category not in DEVELOPMENT_SCORED:
        return INFO
    return rule.severity


def _status(outcome: Outcome) -> str:
    if outcome.passed is None:
        return outcome.status or NOT_EVALUATED
    return PASS if outcome.passed else FAIL


def _check(rule: catalogue.Rule, severity: str, outcome: Outcome) -> Check:
    return Check(
        rule=rule.id,
        category=rule.category,
        severity=severity,
        status=_status(outcome),
        object=outcome.object,
        message=outcome.message,
        remediation=rule.remediation_for(outcome.object.name),
    )


class _Kept(NamedTuple):
    """One alone rule's result for one service, as a poll stores it: how many checks passed,
    and the others (failed, not evaluated)."""

    passes: int
    others: tuple[Check, ...]


_ALL_PASSED: dict[int, _Kept] = {}  # passes -> the one _Kept of that many passes, no other


def _kept(passes: int, others: tuple[Check, ...]) -> _Kept:
    """_Kept(PASSES, OTHERS); most services pass most alone rules, and those share one
    instance per count (a poll of 20,000 services keeps 400,000 of them otherwise)."""
    if others:
        return _Kept(passes, others)
    found = _ALL_PASSED.get(passes)
    if found is None:
        found = _ALL_PASSED[passes] = _Kept(passes, ())
    return found


def _service_memos(snapshot: Snapshot, stamp: tuple) -> list[dict[str, _Kept]]:
    """Per service (in snapshot order), the alone rules' results kept in the service's memo
    (clusters.snapshot.Memo.alone_rules).

    A poll reuses the Service objects the API reports unchanged (clusters.normalize.Reuse), so
    what the alone rules found on them last time still holds unless the policy or the
    environment (the STAMP) changed.
    """
    memos = []
    for service in snapshot.services:
        memo = service.memo
        kept = memo.alone_rules
        if kept is None or kept[0] != stamp:
            kept = memo.alone_rules = (stamp, {})
        memos.append(kept[1])
    return memos


def _run_alone(rule, severity, snapshot, policy, context, memos) -> None:
    """Fill in RULE's results for the services that have none kept (all of them at first)."""
    missing = [
        (service, memo)
        for service, memo in zip(snapshot.services, memos, strict=True)
        if rule.id not in memo
    ]
    if not missing:
        return
    view = (
        snapshot
        if len(missing) == len(snapshot.services)
        else replace(snapshot, services=[service for service, _ in missing])
    )
    objs = [Obj.of_service(service) for service, _ in missing]
    found: dict[int, list[Outcome]] = {id(obj): [] for obj in objs}
    for outcome in rule.function(view, policy, context):
        found[id(outcome.object)].append(outcome)  # KeyError: the rule is not alone
    for (_, memo), obj in zip(missing, objs, strict=True):
        outcomes = found[id(obj)]
        if len(outcomes) == 1:  # the usual case, without the generators below
            only = outcomes[0]
            if only.passed:
                memo[rule.id] = _kept(1, ())
            else:
                memo[rule.id] = _Kept(0, (_check(rule, severity, only),))
            continue
        passes = sum(1 for outcome in outcomes if outcome.passed)
        others = tuple(_check(rule, severity, o) for o in outcomes if not o.passed)
        memo[rule.id] = _kept(passes, others)


def run_rules(
    snapshot: Snapshot,
    policy: Policy,
    context: RuleContext,
    rules: list[catalogue.Rule] | None = None,
    *,
    count_passes: dict[str, list] | None = None,
    keep_passes_of: Collection[str] = (),
) -> list[Check]:
    """Every rule's checks, severities adjusted for the context's environment.

    With COUNT_PASSES (a dict), passing checks are only counted there (rule id -> [category,
    severity, count], every rule run listed in order) instead of returned, except for the
    rules in KEEP_PASSES_OF (those a waiver names: a waived pass is shown).

    When passes are counted, rules marked ``alone`` run only on the services they have no kept
    result for (see _service_memos); the checks come out the same and in the same order.
    """
    rules = catalogue.all_rules() if rules is None else rules
    memos = None
    if count_passes is not None and any(rule.alone for rule in rules):
        memos = _service_memos(snapshot, (context.environment, repr(policy)))
    checks = []
    for rule in rules:
        if rule.runtime and not context.runtime:
            continue
        severity = effective_severity(rule, context.environment)
        tally = None
        if count_passes is not None:
            tally = count_passes.setdefault(rule.id, [rule.category, severity, 0])
            if rule.id in keep_passes_of:
                tally = None
        if rule.alone and tally is not None:
            _run_alone(rule, severity, snapshot, policy, context, memos)
            for memo in memos:
                kept = memo[rule.id]
                tally[2] += kept.passes
                checks.extend(kept.others)
            continue
        for outcome in rule.function(snapshot, policy, context):
            if tally is not None and outcome.passed:
                tally[2] += 1
                continue
            checks.append(_check(rule, severity, outcome))
    return checks


def apply_waivers(checks: list[Check], waivers: list[WaiverSpec]) -> list[Check]:
    """Mark checks covered by an active waiver as waived (not-evaluated ones stay as they are)."""
    if not waivers:
        return checks
    result = []
    for item in checks:
        waiver = next((w for w in waivers if w.matches(item)), None)
        if waiver is not None and item.status in (PASS, FAIL):
            item = replace(item, status=WAIVED, waiver_id=waiver.id)
        result.append(item)
    return result


def evaluate(
    snapshot: Snapshot,
    policy: Policy,
    context: RuleContext,
    *,
    waivers: list[WaiverSpec] = (),
    rules: list[catalogue.Rule] | None = None,
    cluster: str | None = None,
    notes: list[str] = (),
    keep_passes: bool = True,
) -> Report:
    """Run, waive and score: the whole evaluation of one snapshot.

    keep_passes=False leaves passing checks out of the report's checks and only counts them
    (what is stored per poll): same score, summary and other checks, much less to build.
    """
    rules = catalogue.all_rules() if rules is None else rules
    waivers = list(waivers)
    counted = None if keep_passes else {}
    checks = apply_waivers(
        run_rules(
            snapshot,
            policy,
            context,
            rules,
            count_passes=counted,
            keep_passes_of={w.rule for w in waivers},
        ),
        waivers,
    )
    if counted is not None and waivers:  # passes the waivers left as they were: count them too
        for item in checks:
            if item.status == PASS:
                counted[item.rule][2] += 1
        checks = [item for item in checks if item.status != PASS]
    categories = [
        name
        for name in catalogue.CATEGORIES
        if any(r.category == name and (context.runtime or not r.runtime) for r in rules)
    ]
    return Report(
        cluster=cluster,
        environment=context.environment,
        snapshot_at=snapshot.taken_at if context.runtime else None,
        evaluated_at=context.now,
        checks=checks,
        score=score_checks(checks, categories, counted_passes=counted),
        notes=list(notes),
        counted_passes=counted or {},
    )
