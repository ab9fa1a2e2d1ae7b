"""Fix first: the changes that raise the score most, checked against the formula. Pure code."""

import random
import re
from dataclasses import replace

import pytest

from readiness.checks import CRITICAL, FAIL, INFO, NOT_EVALUATED, PASS, WAIVED, WARNING, Check, Obj
from readiness.fixfirst import command_of, fix_first, fix_first_from
from readiness.scoring import rule_scores, score_checks

TEMPLATE = "`docker service update --limit-memory 512M {name}` then redeploy {name}"


def make(rule, status, name, severity=WARNING, remediation=TEMPLATE, kind="service"):
    return Check(
        rule=rule,
        category=rule.split(".")[0],
        severity=severity,
        status=status,
        object=Obj(kind, f"id-{name}", name),
        message=f"{kind} {name}",
        remediation=remediation.replace("{name}", name),
    )


def rule_checks(rule, severity, passed, failed, prefix="s"):
    return [make(rule, PASS, f"{prefix}{i}", severity) for i in range(passed)] + [
        make(rule, FAIL, f"{prefix}{passed + i}", severity) for i in range(failed)
    ]


def fixed(checks, fixes):
    """CHECKS with the checks of FIXES passing."""
    done = {(fix.rule, obj) for fix in fixes for obj in fix.objects}
    return [replace(c, status=PASS) if (c.rule, c.object) in done else c for c in checks]


def random_evaluation(rng):
    checks, counted = [], {}
    for r in range(rng.randint(0, 9)):
        rule = f"{rng.choice(['images', 'health', 'rollout'])}.rule-{r}"
        severity = rng.choice([CRITICAL, WARNING, WARNING, INFO])
        kind = rng.choice(["service", "node", "cluster"])
        alone = rng.random() < 0.3  # some objects get a command of their own
        for i in range(rng.randint(1, 7)):
            name = rng.choice(["web", "api", "db", "web-2", "a.b", "x"]) + str(i)
            status = rng.choice([PASS, PASS, FAIL, FAIL, WAIVED, NOT_EVALUATED])
            text = f"run {rng.randint(0, 2)} on {{name}}" if alone else TEMPLATE
            checks.append(make(rule, status, name, severity, text, kind))
        if rng.random() < 0.3:
            counted[rule] = [rule.split(".")[0], severity, rng.randint(0, 20)]
    rng.shuffle(checks)
    return checks, counted


@pytest.mark.parametrize("seed", range(300))
def test_it_gains_what_the_score_formula_gives_when_those_checks_pass(seed):
    rng = random.Random(seed)
    checks, counted = random_evaluation(rng)
    fixes = fix_first(checks, counted_passes=counted, limit=100)
    before = score_checks(checks, counted_passes=counted)
    for n, fix in enumerate(fixes, start=1):
        after = score_checks(fixed(checks, fixes[:n]), counted_passes=counted)
        assert fix.gain == after.score - before.score
        assert (fix.score_after, fix.grade_after) == (after.score, after.grade)
        before = after
    # every scored failure is in some change: all of them made, nothing fails any more
    assert before.score == 100 and not before.grade_capped
    assert fix_first(checks, counted_passes=counted) == fixes[:5]


@pytest.mark.parametrize("seed", range(100))
def test_it_gives_the_same_list_from_a_stored_evaluation(seed):
    checks, counted = random_evaluation(random.Random(seed))
    stored = rule_scores(checks, counted)
    failing = [c for c in checks if c.status == FAIL]
    assert fix_first_from(stored, failing) == fix_first(checks, counted_passes=counted)


def test_it_breaks_ties_by_severity_then_rule_id():
    # One critical failing of three and a warning failing alone weigh the same (3 * 1/3 = 1 * 1);
    # so do the two warnings. A big failing warning keeps the score under B: no cap holds.
    checks = [
        *rule_checks("rollout.b", WARNING, 0, 1, "b"),
        *rule_checks("health.a", WARNING, 0, 1, "a"),
        *rule_checks("images.tag-pinned", CRITICAL, 2, 1, "t"),
        *rule_checks("config.big", WARNING, 0, 1, "big"),
        *rule_checks("config.huge", CRITICAL, 1, 2, "h"),
    ]
    fixes = fix_first(checks)
    ordered = [f.rule for f in fixes if f.rule not in ("config.big", "config.huge")]
    assert ordered == ["images.tag-pinned", "health.a", "rollout.b"]
    gains = {f.rule: f.gain for f in fix_first(checks, limit=1)}
    assert gains == {"config.huge": 22}


def test_it_starts_a_capped_grades_list_with_the_critical_that_lifts_the_cap():
    # Score 90 (A) capped at C: a critical fails on one service of fifty and gains no point;
    # a failing warning gains more points but leaves the grade at C.
    checks = [
        *rule_checks("resources.memory-limit", CRITICAL, 49, 1),
        *rule_checks("health.healthcheck", WARNING, 0, 1, "h"),
        *rule_checks("rollout.replicas", WARNING, 5, 0, "r"),
        *[c for r in range(6) for c in rule_checks(f"images.r{r}", WARNING, 1, 0, f"i{r}")],
    ]
    report = score_checks(checks)
    assert (report.score, report.grade, report.grade_capped) == (90, "C", True)
    first, second = fix_first(checks)
    assert (first.rule, [o.name for o in first.objects]) == ("resources.memory-limit", ["s49"])
    assert (first.gain, first.grade_after) == (0, "A")
    assert (second.rule, second.gain, second.grade_after) == ("health.healthcheck", 10, "A")


def test_it_puts_every_critical_first_while_the_cap_holds():
    checks = [
        *rule_checks("resources.memory-limit", CRITICAL, 49, 1),
        *rule_checks("images.tag-pinned", CRITICAL, 99, 1, "t"),
        *rule_checks("health.healthcheck", WARNING, 0, 1, "h"),
        *[c for r in range(12) for c in rule_checks(f"images.r{r}", WARNING, 1, 0, f"i{r}")],
    ]
    assert score_checks(checks).score >= 80
    fixes = fix_first(checks)
    assert [(f.rule, f.grade_after) for f in fixes] == [
        ("images.tag-pinned", "C"),  # neither lifts the cap alone: ties go by rule id
        ("resources.memory-limit", "A"),
        ("health.healthcheck", "A"),
    ]


def test_it_leaves_waived_and_unevaluated_checks_out():
    checks = [
        make("rollout.replicas", WAIVED, "web"),
        make("health.healthcheck", NOT_EVALUATED, "web"),
        make("health.healthcheck", PASS, "api"),
        make("images.tag-pinned", FAIL, "api", CRITICAL),
    ]
    (fix,) = fix_first(checks)
    assert (fix.rule, fix.gain, fix.grade_after) == ("images.tag-pinned", 75, "A")


def test_it_gives_nothing_to_fix_without_failures():
    checks = [make("rollout.replicas", PASS, "web"), make("health.healthcheck", WAIVED, "web")]
    assert fix_first(checks) == []
    assert fix_first([]) == []


def test_it_leaves_info_checks_out_they_weigh_nothing():
    checks = [make("rollout.update-order", FAIL, "web", INFO), make("rollout.x", PASS, "web")]
    assert fix_first(checks) == []


def test_it_makes_one_change_of_a_rule_whose_objects_share_the_command():
    checks = [
        make("resources.memory-limit", FAIL, "web", CRITICAL),
        make("resources.memory-limit", FAIL, "api", CRITICAL),
        make("resources.memory-limit", PASS, "db", CRITICAL),
        make("config.bind-mounts", FAIL, "web", remediation="remove /srv/{name}"),
        make("config.bind-mounts", FAIL, "api", remediation="remove /data"),
    ]
    fixes = fix_first(checks)
    assert [(f.rule, [o.name for o in f.objects]) for f in fixes] == [
        ("resources.memory-limit", ["api", "web"]),
        ("config.bind-mounts", ["api"]),
        ("config.bind-mounts", ["web"]),
    ]
    assert [f.gain for f in fixes] == [50, 12, 13]
    assert fixes[0].to_dict() == {
        "rule": "resources.memory-limit",
        "objects": [
            {"type": "service", "id": "id-api", "name": "api"},
            {"type": "service", "id": "id-web", "name": "web"},
        ],
        "gain": 50,
        "grade_after": "C",
    }


def test_it_replaces_only_the_whole_name_in_the_command():
    assert command_of("docker service update --x up up-1 x.up", "up") == (
        "docker service update --x {name} up-1 x.up"
    )
    assert command_of("a  \n b", "") == "a b"


@pytest.mark.parametrize("seed", range(200))
def test_its_name_search_finds_what_the_whole_word_pattern_finds(seed):
    # command_of searches the name as a string (one compiled pattern per name was the cluster
    # page's slowest step); the pattern states the rule it keeps: the name, as a whole word
    rng = random.Random(seed)
    alphabet = ["web", "web-1", "a.b", "x", "_", ".", "-", " ", "/", "é", "1", "`", "{", "}"]
    name = "".join(rng.choice(alphabet[:6] + ["é", "1"]) for _ in range(rng.randint(1, 3)))
    text = "".join(rng.choice([*alphabet, name, name]) for _ in range(rng.randint(0, 12)))
    pattern = rf"(?<![\w.\-]){re.escape(name)}(?![\w.\-])"
    assert command_of(text, name) == re.sub(pattern, "{name}", " ".join(text.split()))
