"""The rule registry: the ``rule`` decorator the rule modules use to register themselves, and
the Rule record. Pure code, no Django. readiness.catalogue imports the rule modules and
answers questions about the registered rules; the rule modules import only this module
(never the catalogue), so there is no import cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from readiness.checks import SEVERITIES

CATEGORIES = (
    "topology",
    "sizing",
    "manager-load",
    "images",
    "health",
    "resources",
    "config",
    "rollout",
    "security",
    "operations",
)
TARGETS = {"C": "cluster", "N": "node", "S": "service", "W": "network"}
# Categories the Compose lint applies (service-level rules only).
LINT_CATEGORIES = ("images", "health", "resources", "config", "rollout", "security")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    target: str  # C | N | S | W
    severity: str  # default severity in production
    seed: str  # which source documents back it
    rationale: str  # which recommendation it enforces and why, in our words
    remediation: str  # how to fix; "{name}" stands for the object's name
    function: Callable
    runtime: bool = False  # needs runtime data (tasks, statuses): not applicable in lint
    # Each outcome is about one service and depends on that service and the policy alone
    # (never on other objects, tasks, nodes or the context): the engine may keep a service's
    # outcomes while the service is unchanged (see engine.run_rules).
    alone: bool = False

    def remediation_for(self, name: str) -> str:
        return self.remediation.replace("{name}", name)


REGISTRY: dict[str, Rule] = {}  # rule id -> Rule, filled as the rule modules load


def rule(
    *,
    id: str,  # noqa: A002 - the catalogue's own vocabulary
    title: str,
    target: str,
    severity: str,
    seed: str,
    rationale: str,
    remediation: str,
    runtime: bool = False,
    alone: bool = False,
):
    """Register the decorated function ``(snapshot, policy, context) -> [Outcome]``."""
    category = id.split(".", 1)[0]
    assert category in CATEGORIES, id
    assert target in TARGETS, id
    assert severity in SEVERITIES, id
    assert id not in REGISTRY, id
    assert not alone or target == "S", id

    def register(function: Callable) -> Callable:
        REGISTRY[id] = Rule(
            id=id,
            title=title,
            category=category,
            target=target,
            severity=severity,
            seed=seed,
            rationale=" ".join(rationale.split()),
            remediation=" ".join(remediation.split()),
            function=function,
            runtime=runtime,
            alone=alone,
        )
        return function

    return register
