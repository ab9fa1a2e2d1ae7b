"""The rule catalogue against the contract's table: ids, targets, severities, categories."""

from readiness import catalogue
from readiness.checks import WEIGHTS

# The catalogue tables of the readiness contract, in their order: (id, target, severity).
CONTRACT = [
    ("topology.multi-node", "C", "critical"),
    ("topology.manager-count", "C", "warning"),
    ("topology.managers-reachable", "C", "critical"),
    ("topology.nodes-ready", "N", "critical"),
    ("topology.engine-versions", "C", "warning"),
    ("topology.control-plane-isolated", "C", "warning"),
    ("topology.manager-failure-domains", "C", "warning"),
    ("sizing.manager-tier", "N", "critical"),
    ("sizing.worker-tier", "N", "warning"),
    ("sizing.reservation-pressure", "N", "warning"),
    ("sizing.n-plus-one", "C", "warning"),
    ("manager-load.no-app-tasks", "N", "warning"),
    ("manager-load.placement", "S", "warning"),
    ("manager-load.unbounded-on-manager", "S", "critical"),
    ("manager-load.ingress-ports", "S", "warning"),
    ("images.tag-pinned", "S", "critical"),
    ("images.digest-pinned", "S", "warning"),
    ("images.consistent", "S", "critical"),
    ("images.registry", "S", "warning"),
    ("health.healthcheck", "S", "warning"),
    ("health.converged", "S", "critical"),
    ("health.flapping", "S", "warning"),
    ("resources.memory-limit", "S", "critical"),
    ("resources.memory-floor", "S", "warning"),
    ("resources.memory-reservation", "S", "warning"),
    ("resources.cpu-limit", "S", "info"),
    ("config.secret-in-env", "S", "critical"),
    ("config.bind-mounts", "S", "warning"),
    ("config.sensitive-host-path", "S", "critical"),
    ("config.stateful-pinned", "S", "warning"),
    ("rollout.replicas", "S", "warning"),
    ("rollout.spread", "S", "warning"),
    ("rollout.update-failure-action", "S", "warning"),
    ("rollout.update-order", "S", "info"),
    ("rollout.restart-policy", "S", "warning"),
    ("rollout.update-stuck", "S", "critical"),
    ("rollout.constraints-satisfiable", "S", "critical"),
    ("rollout.single-node", "S", "warning"),
    ("rollout.update-parallelism", "S", "warning"),
    ("rollout.rollback-config", "S", "info"),
    ("rollout.host-port-placement", "S", "warning"),
    ("security.api-tls", "C", "critical"),
    ("security.autolock", "C", "warning"),
    ("security.cert-expiry", "C", "info"),
    ("security.overlay-encrypted", "W", "warning"),
    ("security.docker-socket", "S", "critical"),
    ("security.capabilities", "S", "critical"),
    ("security.join-token-rotation", "C", "info"),
    ("operations.maintenance-window", "C", "warning"),
    ("operations.weekly-reboot", "N", "warning"),
    ("operations.backup-restore-tested", "C", "critical"),
    ("operations.notifications", "C", "warning"),
    ("operations.logging", "C", "warning"),
    ("operations.swarm-state-backup", "C", "warning"),
]


def test_it_has_exactly_the_rules_of_the_contract_in_its_order():
    assert catalogue.rule_ids() == [rule_id for rule_id, _, _ in CONTRACT]


def test_it_gives_each_rule_the_target_severity_and_category_of_the_contract():
    found = [(r.id, r.target, r.severity) for r in catalogue.all_rules()]
    assert found == CONTRACT
    assert all(r.category == r.id.split(".", 1)[0] for r in catalogue.all_rules())


def test_it_weighs_severities_by_contract():
    assert WEIGHTS == {"critical": 3, "warning": 1, "info": 0}


def test_it_lints_every_service_rule_of_the_lint_categories_that_reads_only_the_definition():
    lint = catalogue.lint_rules()
    assert {r.category for r in lint} == {
        "images", "health", "resources", "config", "rollout", "security",
    }  # fmt: skip
    assert all(r.target == "S" and not r.runtime for r in lint)
    left_out = [
        r.id
        for r in catalogue.all_rules()
        if r.target == "S" and r.category in catalogue.LINT_CATEGORIES and r not in lint
    ]
    # These need running tasks, nodes or update status: a Compose file has none.
    assert left_out == [
        "images.consistent",
        "health.converged",
        "health.flapping",
        "rollout.spread",
        "rollout.update-stuck",
        "rollout.constraints-satisfiable",
    ]
