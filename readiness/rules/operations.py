"""Operations: maintenance windows, weekly reboots, tested restores, notifications, logging.

Facts come from the maintenance app (``context.operations``); without them these rules report
"not evaluated" instead of passing.
"""

from __future__ import annotations

from datetime import timedelta

from readiness.checks import Obj, bad, check, ok, unknown
from readiness.registry import rule
from readiness.rules._util import parse_image

NOT_AVAILABLE = "not evaluated: the maintenance app has no data for this cluster yet"


@rule(
    id="operations.maintenance-window",
    title="Weekly maintenance window of 15 to 90 minutes",
    target="C",
    severity="warning",
    seed="000",
    rationale="""Seed 000 observes that teams set aside 15 to 90 minutes a week for system
    maintenance. A declared weekly window makes reboots and upgrades routine and tells users when
    to expect them, instead of postponing them until something breaks.""",
    remediation="""Create a weekly window of 15-90 minutes for this cluster under Maintenance >
    Windows (it must be active today).""",
)
def maintenance_window(snapshot, policy, context):
    obj = Obj.cluster(context.cluster_name)
    facts = context.operations
    if facts is None:
        return [unknown(obj, NOT_AVAILABLE)]
    low, high = policy.window_min_minutes, policy.window_max_minutes
    fitting = [w for w in facts.windows if w.active and low <= w.duration_minutes <= high]
    return [
        check(
            obj,
            bool(fitting),
            f"weekly window {fitting[0].name} ({fitting[0].duration_minutes} min)"
            if fitting
            else "",
            f"no active weekly window of {low}-{high} minutes ({len(facts.windows)} window(s))",
        )
    ]


@rule(
    id="operations.weekly-reboot",
    title="Every node rebooted in the last 8 days",
    target="N",
    severity="warning",
    seed="000",
    rationale="""Seed 000 recommends rebooting nodes once a week: it keeps patches applied,
    catches problems early, and proves the cluster survives losing a node. We accept a reboot
    observed by Watchkeeper (down then ready) or confirmed by an operator within 8 days.""",
    remediation="""Reboot {name} in the next window: `docker node update --availability drain
    {name}`, reboot the host, `docker node update --availability active {name}` (the
    maintenance checklist walks through it).""",
)
def weekly_reboot(snapshot, policy, context):
    facts = context.operations
    if facts is None:
        return [unknown(Obj.of_node(node), NOT_AVAILABLE) for node in snapshot.nodes]
    since = context.now - timedelta(days=policy.reboot_interval_days)
    outcomes = []
    for node in snapshot.nodes:
        last = facts.last_reboot.get(node.id)
        outcomes.append(
            check(
                Obj.of_node(node),
                last is not None and last >= since,
                f"node {node.hostname} last rebooted {last:%Y-%m-%d}" if last else "",
                f"node {node.hostname} not rebooted in {policy.reboot_interval_days} days "
                f"(last: {f'{last:%Y-%m-%d}' if last else 'never seen'})",
            )
        )
    return outcomes


@rule(
    id="operations.backup-restore-tested",
    title="Backups registered and restores tested",
    target="C",
    severity="critical",
    seed="000, 002, 003",
    rationale="""Seeds 000, 002 and 003 all ask for regular backups, and seed 000 adds that a
    backup only counts once its restore has been tested, every one to three months. An untested
    backup is a hope, not a recovery plan.""",
    remediation="""Register each backup under Maintenance > Backups and record a validated
    restore test at least every 90 days (30-90 per backup).""",
)
def backup_restore_tested(snapshot, policy, context):
    obj = Obj.cluster(context.cluster_name)
    facts = context.operations
    if facts is None:
        return [unknown(obj, NOT_AVAILABLE)]
    if not facts.backups:
        return [check(obj, False, "", "no backup is registered")]
    late = []
    for backup in facts.backups:
        interval = min(max(backup.interval_days or policy.backup_interval_days, 30), 90)
        due = context.now - timedelta(days=interval)
        if backup.last_passed_at is None or backup.last_passed_at < due:
            late.append(f"{backup.name} ({interval} days)")
    return [
        check(
            obj,
            not late,
            f"{len(facts.backups)} backup(s) with a restore test inside their interval",
            f"restore test missing or overdue: {', '.join(late)}",
        )
    ]


@rule(
    id="operations.notifications",
    title="Someone receives the cluster's notifications",
    target="C",
    severity="warning",
    seed="000",
    rationale="""Seed 000's incident response starts with enabling notifications. Findings,
    node failures and reminders are useless if nobody receives them.""",
    remediation="""Add at least one recipient (a user or an address) to the cluster's
    notification recipients.""",
)
def notifications(snapshot, policy, context):
    obj = Obj.cluster(context.cluster_name)
    facts = context.operations
    if facts is None:
        return [unknown(obj, NOT_AVAILABLE)]
    return [
        check(
            obj,
            facts.recipients >= 1,
            f"{facts.recipients} recipient(s)",
            "no recipient gets this cluster's notifications",
        )
    ]


# Log shippers recognised as a node agent (a global service running one of these images reads
# each node's container logs and sends them away): fluent-bit, fluentd, vector, promtail,
# filebeat, logspout, grafana alloy and the datadog agent.
LOG_SHIPPERS = (
    "fluent-bit", "fluentbit", "fluentd", "vector", "promtail", "filebeat", "logspout", "alloy",
    "datadog",
)  # fmt: skip
LOCAL_DRIVERS = {"json-file", "local"}


def log_shipper(service) -> bool:
    """A global service whose image is a known log shipper (LOG_SHIPPERS), with a task up."""
    if service.mode != "global" or service.running_tasks < 1:
        return False
    _, repo, _, _ = parse_image(service.image)
    return any(
        part == name or part.startswith(name + "-") or (name == "datadog" and name in part)
        for part in repo.lower().split("/")
        for name in LOG_SHIPPERS
    )


def _effective_driver(service, snapshot) -> str:
    """The driver a service's tasks log with: its own, else the swarm's task default
    (/swarm TaskDefaults), else the polled manager's daemon default (json-file if unknown)."""
    return (
        service.log_driver
        or snapshot.swarm.task_log_driver
        or snapshot.swarm.default_log_driver
        or "json-file"
    )


@rule(
    id="operations.logging",
    title="Logs leave the nodes",
    target="C",
    severity="warning",
    seed="002",
    rationale="""Seed 002 recommends connecting production to an external logging system. With
    the `json-file` or `local` driver logs stay on each node and vanish with it, unless a log
    shipper runs on every node (a global service running fluent-bit, fluentd, vector, promtail,
    filebeat, logspout, alloy or the datadog agent); with `none` they are thrown away. A
    shipping driver (syslog, journald, gelf, fluentd, awslogs, ...) set per service, as the
    swarm's task default or as the daemons' default, or a shipper agent passes.""",
    remediation="""Set a shipping driver swarm-wide (`docker swarm update --log-driver
    journald` sets the tasks' default) or per service (`docker service update --log-driver
    gelf --log-opt gelf-address=udp://logs.example.com:12201 <service>`; Compose: `logging:
    driver: ...`), or run a log shipper as a global service (e.g. fluent-bit reading
    /var/lib/docker/containers); never use the `none` driver in production.""",
)
def logging(snapshot, policy, context):
    """`none` fails; json-file/local without a shipper agent fails (warning); else passes.
    Without services (other than shippers), the swarm's default driver is judged."""
    obj = Obj.cluster(context.cluster_name)
    shippers = sorted(s.name for s in snapshot.services if log_shipper(s))
    drivers = {
        f"service {s.name}": _effective_driver(s, snapshot)
        for s in snapshot.services
        if not log_shipper(s)
    }
    if not drivers:
        swarm = snapshot.swarm
        drivers = {"the default": swarm.task_log_driver or swarm.default_log_driver or "json-file"}
    discarded = sorted(name for name, driver in drivers.items() if driver == "none")
    if discarded:
        return [bad(obj, f"logs are thrown away (driver none): {', '.join(discarded)}")]
    local = sorted(name for name, driver in drivers.items() if driver in LOCAL_DRIVERS)
    if local and not shippers:
        listed = ", ".join(f"{name} ({drivers[name]})" for name in local)
        return [
            bad(
                obj, f"logs stay on the nodes and no log shipper runs as a global service: {listed}"
            )
        ]
    if local:
        return [
            ok(obj, f"node logs ({len(local)} on json-file/local) read by {', '.join(shippers)}")
        ]
    return [ok(obj, f"logs shipped with {', '.join(sorted(set(drivers.values())))}")]
