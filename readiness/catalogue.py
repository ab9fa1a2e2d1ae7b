"""The rule catalogue: every rule with its metadata, registered once (readiness.registry)
by the rule modules imported here. Pure code, no Django."""

from __future__ import annotations

from readiness.registry import CATEGORIES, LINT_CATEGORIES, REGISTRY, TARGETS, Rule

# The rule modules register themselves on import (readiness.registry.rule); all_rules orders
# them by category, then by declaration order within a module.
from readiness.rules import (  # noqa: F401, I001
    config,
    health,
    images,
    manager_load,
    operations,
    resources,
    rollout,
    security,
    sizing,
    topology,
)

# isort: split
# Last: its rules (one per category) follow those of each category's own module.
from readiness.rules import control_plane  # noqa: F401

__all__ = [
    "CATEGORIES",
    "LINT_CATEGORIES",
    "TARGETS",
    "Rule",
    "all_rules",
    "get",
    "lint_rules",
    "rule_ids",
]


def all_rules() -> list[Rule]:
    """Every rule, in category order then declaration order."""
    order = {name: index for index, name in enumerate(CATEGORIES)}
    return sorted(REGISTRY.values(), key=lambda r: order[r.category])


def get(rule_id: str) -> Rule:
    return REGISTRY[rule_id]


def rule_ids() -> list[str]:
    return [r.id for r in all_rules()]


def lint_rules() -> list[Rule]:
    """Service-level rules that read only a service's definition (the Compose lint)."""
    return [
        r
        for r in all_rules()
        if r.category in LINT_CATEGORIES and r.target == "S" and not r.runtime
    ]
