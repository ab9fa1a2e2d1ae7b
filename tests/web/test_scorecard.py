"""Explaining a score rule by rule, from the report shape: pure code."""

from readiness.scorecard import scorecard_from_report


def check(rule, status, severity="warning", category="images", name="web"):
    return {
        "rule": rule,
        "category": category,
        "severity": severity,
        "status": status,
        "object": {"type": "service", "id": name, "name": name},
        "message": f"{name}: {rule}",
        "remediation": "fix it",
    }


REPORT = {
    "score": 62,
    "grade": "C",
    "grade_capped": True,
    "categories": {"images": {"score": 50, "rules": 2}, "health": {"score": 100, "rules": 1}},
    "summary": {"critical": 1, "warning": 1, "info": 0, "waived": 1, "passed": 3},
    "checks": [
        check("images.tag-pinned", "fail", "critical"),
        check("images.tag-pinned", "pass", "critical", name="api"),
        check("images.digest-pinned", "fail"),
        check("images.digest-pinned", "waived", name="api"),
        check("health.converged", "pass", "critical", category="health"),
        check("resources.cpu-limit", "fail", "info", category="resources"),
    ],
}


def test_it_gives_each_rule_its_weight_pass_fraction_and_contribution():
    card = scorecard_from_report(REPORT)
    by_rule = {e.line.rule: e for e in card.explained}
    assert card.total_weight == 3 + 1 + 3
    tag = by_rule["images.tag-pinned"]
    assert (tag.line.weight, tag.line.pass_percent) == (3, 50)
    assert round(tag.contribution, 2) == round(100 * 3 / 7 * 0.5, 2)
    digest = by_rule["images.digest-pinned"]
    assert (digest.line.passed, digest.line.failed, digest.line.waived) == (0, 1, 1)
    assert digest.contribution == 0.0
    assert by_rule["health.converged"].lost == 0.0


def test_it_sums_contributions_to_the_unfloored_score():
    card = scorecard_from_report(REPORT)
    total = sum(e.contribution for e in card.explained)
    assert int(total) == 100 * (3 * 0.5 + 0 + 3) // 7


def test_it_leaves_info_rules_out_of_the_score():
    card = scorecard_from_report(REPORT)
    info = next(e for e in card.explained if e.line.rule == "resources.cpu-limit")
    assert info.line.weight == 0 and info.contribution == 0.0 and info.lost == 0.0


def test_it_lists_the_costliest_rules_first():
    card = scorecard_from_report(REPORT)
    # tag-pinned loses 3/7 * 50% = 21.4 points, digest-pinned 1/7 = 14.3
    assert [e.line.rule for e in card.explained[:2]] == [
        "images.tag-pinned",
        "images.digest-pinned",
    ]


def test_it_groups_failing_checks_by_category_critical_first():
    card = scorecard_from_report(REPORT)
    assert list(card.failing) == ["images", "resources"]
    assert [c["severity"] for c in card.failing["images"]] == ["critical", "warning"]
    assert card.grade_capped and card.grade == "C"
    assert [c.name for c in card.categories] == ["health", "images"]


def test_it_prefers_the_readiness_apps_own_rule_explanation():
    report = dict(REPORT)
    report["rules"] = [
        {
            "rule": "images.tag-pinned",
            "category": "images",
            "severity": "critical",
            "weight": 3,
            "passed": 3,
            "failed": 1,
        },
    ]
    card = scorecard_from_report(report)
    tag = next(e for e in card.explained if e.line.rule == "images.tag-pinned")
    assert tag.line.pass_percent == 75
    assert {e.line.rule for e in card.explained} >= {"images.digest-pinned", "health.converged"}


def test_it_explains_the_same_from_per_rule_counts_as_from_the_checks():
    from collections import Counter

    from readiness.scorecard import scorecard_from_counts

    counts = Counter(
        (c["rule"], c["category"], c["severity"], c["status"]) for c in REPORT["checks"]
    )
    without_checks = {key: value for key, value in REPORT.items() if key != "checks"}
    card = scorecard_from_counts(without_checks, [(*key, n) for key, n in counts.items()])
    expected = scorecard_from_report(REPORT)
    assert card.explained == expected.explained
    assert card.total_weight == expected.total_weight and card.failing == {}
    assert (card.score, card.grade, card.categories) == (62, "C", expected.categories)
