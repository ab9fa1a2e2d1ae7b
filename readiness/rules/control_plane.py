"""The swarm's own control plane: managers across failure domains, join tokens rotated, the
raft state backed up. (Rules of the topology, security and operations categories.)"""

from __future__ import annotations

from datetime import timedelta

from readiness.checks import Obj, bad, ok, unknown
from readiness.registry import rule
from readiness.rules.operations import NOT_AVAILABLE

SWARM_RAFT = "swarm_raft"  # maintenance.models.Backup.Kind.SWARM_RAFT


@rule(
    id="topology.manager-failure-domains",
    title="Managers spread over failure domains",
    target="C",
    severity="warning",
    seed="001, Docker admin guide",
    rationale="""Seed 001 designs for the loss of a whole zone or rack, and Docker's admin guide
    advises spreading managers across availability zones. Raft needs a majority of managers: if
    every manager sits in one zone (or rack, or power feed), losing that one domain loses the
    whole control plane, however many managers there are. The policy's failure-domain label
    (default `zone`) names the node label that says where a manager is.""",
    remediation="""Label each manager with its domain (`docker node update --label-add
    zone=eu-1a <manager>`) and move or add managers so that they sit in at least two domains,
    ideally three (no domain holding a majority): `docker node promote` a worker in another
    domain, `docker node demote` one of the crowded domain.""",
)
def manager_failure_domains(snapshot, policy, context):
    """Not applicable without a label in the policy or with fewer than 2 managers; unknown when
    the labelled managers share one domain but some managers carry no label (or none does)."""
    label = policy.failure_domain_label.strip().removeprefix("node.labels.")
    managers = [n for n in snapshot.nodes if n.is_manager]
    if not label or len(managers) < 2:
        return []
    obj = Obj.cluster(context.cluster_name)
    domains: dict[str, list[str]] = {}
    unlabelled = []
    for node in managers:
        value = node.labels.get(label, "").strip()
        if value:
            domains.setdefault(value.lower(), []).append(node.hostname)
        else:
            unlabelled.append(node.hostname)
    listed = "; ".join(f"{label}={name}: {', '.join(hosts)}" for name, hosts in domains.items())
    if len(domains) >= 2:
        quorum = len(managers) // 2 + 1
        crowded = [name for name, hosts in domains.items() if len(hosts) >= quorum]
        note = f" (losing {label}={crowded[0]} still loses the majority)" if crowded else ""
        return [ok(obj, f"managers in {len(domains)} {label} domains: {listed}{note}")]
    if unlabelled:
        where = f"{listed}; " if domains else ""
        return [
            unknown(
                obj,
                f"{where}{len(unlabelled)} manager(s) without a {label} label "
                f"({', '.join(unlabelled)}): their failure domain is unknown",
            )
        ]
    return [bad(obj, f"every manager is in one failure domain: {listed}")]


def _days(delta: timedelta) -> int:
    return max(int(delta.total_seconds() // 86400), 0)


@rule(
    id="security.join-token-rotation",
    title="Join tokens rotated",
    target="C",
    severity="info",
    seed="002, Docker admin guide",
    rationale="""A join token is a long-lived credential: anyone holding the manager token can
    add a manager (and read every secret), the worker token a worker. Docker's admin guide
    advises rotating them regularly and whenever one may have leaked (seed 002 treats the
    control plane as the asset to protect). Watchkeeper sees a token change between polls
    (it keeps only a fingerprint, never the token); the first time it sees a token is the
    earliest known age, so the age shown is "at least".""",
    remediation="""Rotate both tokens: `docker swarm join-token --rotate worker` and `docker
    swarm join-token --rotate manager` (existing nodes are not affected; update the
    provisioning that joins new nodes).""",
)
def join_token_rotation(snapshot, policy, context):
    swarm = snapshot.swarm
    obj = Obj.cluster(context.cluster_name)
    seen = {
        "worker": swarm.worker_token_seen_since,
        "manager": swarm.manager_token_seen_since,
    }
    if not any(seen.values()):
        return []  # /swarm not read (a snapshot from before it was): not applicable
    limit = timedelta(days=policy.join_token_max_age_days)
    old, ages = [], []
    for role, since in seen.items():
        if since is None:
            continue
        if swarm.created_at is not None and swarm.created_at > since:
            since = swarm.created_at  # never older than the swarm
        age = context.now - since
        text = f"{role} token unchanged for at least {_days(age)} days (since {since:%Y-%m-%d})"
        ages.append(text)
        if age > limit:
            old.append(text)
    if old:
        return [bad(obj, f"{'; '.join(old)}: older than {policy.join_token_max_age_days} days")]
    return [ok(obj, "; ".join(ages))]


@rule(
    id="operations.swarm-state-backup",
    title="The swarm's raft state is backed up and restore-tested",
    target="C",
    severity="warning",
    seed="000, 002, Docker admin guide",
    rationale="""Seeds 000 and 002 ask for tested backups; the swarm's own state (the raft log
    under /var/lib/docker/swarm on a manager: services, secrets, configs, networks) is the one
    backup application owners forget. Losing a majority of managers without it means recreating
    every service and secret by hand; Docker's admin guide describes how to back it up and
    restore it. A backup of kind "swarm raft state" with a restore test inside its interval
    passes.""",
    remediation="""Back up a manager's /var/lib/docker/swarm (stop its engine, or use an autolock
    key and copy while locked), register it: `manage.py maintenance backup add CLUSTER
    "swarm raft" --kind swarm_raft`, and record a validated restore test every 30-90 days
    (restore into a scratch manager with `docker swarm init --force-new-cluster`).""",
)
def swarm_state_backup(snapshot, policy, context):
    obj = Obj.cluster(context.cluster_name)
    facts = context.operations
    if facts is None:
        return [unknown(obj, NOT_AVAILABLE)]
    raft = [b for b in facts.backups if b.kind == SWARM_RAFT]
    if not raft:
        return [bad(obj, 'no backup of kind "swarm raft state" is registered')]
    fresh, late = [], []
    for backup in raft:
        interval = min(max(backup.interval_days or policy.backup_interval_days, 30), 90)
        due = context.now - timedelta(days=interval)
        if backup.last_passed_at is not None and backup.last_passed_at >= due:
            fresh.append(f"{backup.name} (restore tested {backup.last_passed_at:%Y-%m-%d})")
        else:
            late.append(f"{backup.name} ({interval} days)")
    if fresh:
        return [ok(obj, f"swarm raft state backup: {', '.join(fresh)}")]
    return [bad(obj, f"swarm raft state restore test missing or overdue: {', '.join(late)}")]
