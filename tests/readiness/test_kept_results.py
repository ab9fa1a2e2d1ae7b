"""Rules marked ``alone`` keep their results on unchanged services between polls (pure code).

Two things must hold: what such a rule finds on a service depends on that service alone (so a
kept result is still right), and an evaluation with kept results equals a fresh one.
"""

import json
from dataclasses import replace

import pytest

from clusters import normalize
from clusters.snapshot import from_dict, to_dict
from readiness import catalogue
from readiness.context import DEVELOPMENT, STAGING, RuleContext
from readiness.engine import WaiverSpec, evaluate
from readiness.policy import Policy
from tests.clusters.conftest import load_raw, recorded_now

from .test_rules import CASES

ALONE = [rule for rule in catalogue.all_rules() if rule.alone]


def every_case_service():
    """The services of every rule case, renamed apart, in one snapshot with the cases' nodes
    and tasks (what other rules would need)."""
    services, nodes, tasks = [], [], []
    for index, (_rule_id, cases) in enumerate(sorted(CASES.items())):
        for number, (snap, _) in enumerate(cases):
            for service in snap.services:
                suffix = f"-{index}-{number}"
                services.append(
                    replace(service, id=service.id + suffix, name=service.name + suffix)
                )
            nodes.extend(snap.nodes)
            tasks.extend(snap.tasks)
    first = CASES["images.tag-pinned"][0][0]
    return replace(first, services=services, nodes=nodes[:5], tasks=tasks)


def test_the_alone_rules_are_the_service_definition_rules():
    assert {rule.id for rule in ALONE} >= {
        "images.tag-pinned",
        "resources.memory-limit",
        "security.docker-socket",
    }
    assert all(rule.target == "S" for rule in ALONE)
    # these read tasks or nodes besides the service: never kept
    assert not {"rollout.spread", "images.consistent", "manager-load.placement"} & {
        rule.id for rule in ALONE
    }


@pytest.mark.parametrize("rule", ALONE, ids=lambda r: r.id)
@pytest.mark.parametrize("policy", [Policy(), Policy(allow_private_registries=False)])
def test_an_alone_rule_finds_on_each_service_what_it_finds_on_the_service_by_itself(rule, policy):
    snap = every_case_service()
    context = RuleContext(now=snap.taken_at)
    together = list(rule.function(snap, policy, context))
    one_by_one = [
        outcome
        for service in snap.services
        for outcome in rule.function(replace(snap, services=[service], nodes=[], tasks=[]),
                                     policy, context)
    ]  # fmt: skip
    assert together == one_by_one
    assert together  # the cases give every alone rule something to say


def fresh(snapshot):
    """The same snapshot made of new objects: nothing kept on them."""
    return from_dict(json.loads(json.dumps(to_dict(snapshot))))


def report_of(snapshot, policy=None, environment="production", **kw):
    context = RuleContext(now=snapshot.taken_at, environment=environment, cluster_name="lab")
    return evaluate(snapshot, policy or Policy(), context, cluster="lab", **kw)


def same(one, other):
    assert one.checks == other.checks
    assert one.counted_passes == other.counted_passes
    assert one.score == other.score
    assert one.summary == other.summary


def polls():
    """Two polls of the lab normalised with reuse, the second with one service changed."""
    poll1, poll2 = load_raw("lab_poll1"), load_raw("lab_poll1")
    reuse = normalize.Reuse()
    first = normalize.snapshot(poll1, now=recorded_now(poll1), reuse=reuse)
    changed = next(s for s in poll2["services"] if s["Spec"]["Name"] == "shop-api")
    changed["Version"]["Index"] += 1
    changed["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "shop/api:latest"
    changed["Spec"]["TaskTemplate"].get("Resources", {}).pop("Limits", None)
    second = normalize.snapshot(poll2, now=recorded_now(poll2), reuse=reuse)
    assert reuse.hits  # the other services are the first poll's objects
    return first, second


@pytest.mark.parametrize("keep_passes", [False, True])
def test_a_poll_with_kept_results_scores_like_a_fresh_evaluation(keep_passes):
    first, second = polls()
    report_of(first, keep_passes=keep_passes)
    kept = report_of(second, keep_passes=keep_passes)
    same(kept, report_of(fresh(second), keep_passes=keep_passes))
    failing = {(c.rule, c.object.name) for c in kept.checks if c.status == "fail"}
    assert {("images.tag-pinned", "shop-api"), ("resources.memory-limit", "shop-api")} <= failing


def test_kept_results_follow_a_changed_policy_environment_and_waivers():
    first, second = polls()
    report_of(first, keep_passes=False)
    strict = Policy(allow_private_registries=False, allowed_registries=[], memory_floor_mib=4096)
    for environment in (STAGING, DEVELOPMENT):
        same(
            report_of(second, strict, environment, keep_passes=False),
            report_of(fresh(second), strict, environment, keep_passes=False),
        )
    waivers = [WaiverSpec(1, "images.registry"), WaiverSpec(2, "resources.memory-limit", "shop-*")]
    same(
        report_of(second, strict, waivers=waivers, keep_passes=False),
        report_of(fresh(second), strict, waivers=waivers, keep_passes=False),
    )
    same(report_of(second, keep_passes=False), report_of(fresh(second), keep_passes=False))


def test_a_rule_that_is_not_alone_cannot_be_kept():
    """A rule marked alone that reports on a service it was not run for fails loudly."""
    from readiness.checks import Obj, ok

    def sneaky(snapshot, policy, context):
        return [ok(Obj.of_service(s), "fine") for s in everything.services]

    everything = every_case_service()
    rule = replace(catalogue.get("images.tag-pinned"), function=sneaky, id="images.sneaky")
    first = report_of(everything, rules=[rule], keep_passes=False)
    assert first.summary["passed"] == len(everything.services)
    one_new = replace(
        everything, services=[*everything.services[1:], fresh(everything).services[0]]
    )
    with pytest.raises(KeyError):
        report_of(one_new, rules=[rule], keep_passes=False)
