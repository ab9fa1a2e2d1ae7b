"""Checks: one rule applied to one object. Pure data, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

PASS = "pass"
FAIL = "fail"
WAIVED = "waived"
NOT_EVALUATED = "not_evaluated"  # unknown: nothing could tell (the message says why)
PENDING = "pending"  # a transient during a rolling update: not scored, not notified yet
STATUSES = (PASS, FAIL, WAIVED, NOT_EVALUATED, PENDING)
UNSCORED = (NOT_EVALUATED, PENDING)  # shown with their message, left out of the score

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SEVERITIES = (CRITICAL, WARNING, INFO)
WEIGHTS = {CRITICAL: 3, WARNING: 1, INFO: 0}  # a rule's weight in the score, by severity
SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}  # the order lists show severities in


def severity_rank(severity: str) -> int:
    """Where SEVERITY sorts (critical first); an unknown one sorts last."""
    return SEVERITY_ORDER.get(severity, len(SEVERITY_ORDER))


@dataclass(frozen=True)
class Obj:
    """What a check is about: the cluster, a node, a service or a network."""

    type: str  # cluster | node | service | network
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def cluster(cls, name: str = "cluster") -> Obj:
        return cls("cluster", "", name)

    @staticmethod
    def of_node(node) -> Obj:
        """The node's Obj, made once and kept in its memo (clusters.snapshot.Memo.check_obj):
        some fifty rules ask for it."""
        memo = node.memo
        made = memo.check_obj  # the usual case: made by an earlier rule
        if made is None:
            made = memo.check_obj = Obj("node", node.id, node.hostname, dict(node.labels))
        return made

    @staticmethod
    def of_service(service) -> Obj:
        """The service's Obj, made once and kept in its memo (Memo.check_obj)."""
        memo = service.memo
        made = memo.check_obj
        if made is None:
            made = memo.check_obj = Obj("service", service.id, service.name, dict(service.labels))
        return made

    @classmethod
    def of_network(cls, network) -> Obj:
        return cls("network", network.id, network.name, dict(network.labels))


class Outcome(NamedTuple):
    """What a rule function returns for one object: passed (True/False) or unknown (None);
    STATUS names an unscored status other than "not evaluated" (pending).

    A named tuple: rules make some fifty thousand a poll on a large swarm.
    """

    object: Obj
    passed: bool | None
    message: str
    status: str | None = None


def ok(obj: Obj, message: str) -> Outcome:
    return Outcome(obj, True, message)


def bad(obj: Obj, message: str) -> Outcome:
    return Outcome(obj, False, message)


def unknown(obj: Obj, message: str) -> Outcome:
    return Outcome(obj, None, message)


def pending(obj: Obj, message: str) -> Outcome:
    """Neither pass nor fail yet: a rolling update is under way (see rules._util.transient)."""
    return Outcome(obj, None, message, PENDING)


def check(obj: Obj, passed: bool, good: str, wrong: str) -> Outcome:
    """Pass with the GOOD message or fail with the WRONG one."""
    return Outcome(obj, passed, good if passed else wrong)


@dataclass(frozen=True)
class Check:
    """One rule applied to one object, with the rule's metadata as evaluated."""

    rule: str
    category: str
    severity: str  # effective severity (after the environment adjustment)
    status: str
    object: Obj
    message: str
    remediation: str
    waiver_id: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity across evaluations: rule, object type and object id (or name)."""
        return (self.rule, self.object.type, self.object.id or self.object.name)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "status": self.status,
            "object": {"type": self.object.type, "id": self.object.id, "name": self.object.name},
            "message": self.message,
            "remediation": self.remediation,
        }
