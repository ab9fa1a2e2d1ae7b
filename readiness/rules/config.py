"""Configuration: secrets out of the environment, volumes instead of host paths."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import (
    SENSITIVE_PATHS,
    bind_sources_in,
    node_label_constraints,
    placeable_nodes,
    secret_like_name,
    single_node_pin,
)


@rule(
    id="config.secret-in-env",
    title="No secret values in environment variables",
    target="S",
    severity="critical",
    seed="000, 003",
    rationale="""Seed 000 says to use secrets and configs, and seed 003 shows why a secret in an
    environment variable is not good enough: it ends up in `docker service inspect`, in logs and
    in crash dumps. Mount it as a Swarm secret and point the application at the file
    (`*_FILE`).""",
    remediation="""`printf %s "$VALUE" | docker secret create {name}_password -` then
    `docker service update --secret-add {name}_password --env-rm PASSWORD
    --env-add PASSWORD_FILE=/run/secrets/{name}_password {name}` (Compose: a top-level
    `secrets:` entry, `secrets: [..]` on the service and `PASSWORD_FILE: /run/secrets/..`).""",
    alone=True,
)
def secret_in_env(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        offending = sorted(
            {
                var.name
                for var in service.env
                if var.private_key
                or (var.literal and (var.secret_like or secret_like_name(var.name)))
            }
        )
        outcomes.append(
            check(
                Obj.of_service(service),
                not offending,
                f"service {service.name}: no secret value in {len(service.env)} env vars",
                f"service {service.name}: literal secret values in env "
                f"{', '.join(offending)} (values not shown)",
            )
        )
    return outcomes


@rule(
    id="config.bind-mounts",
    title="Volumes instead of bind mounts",
    target="S",
    severity="warning",
    seed="000",
    rationale="""Seed 000: switch from bind mounts to volumes. A bind mount ties the service to
    whatever a particular host has at that path, so the task breaks or silently sees different
    data when it is rescheduled to another node.""",
    remediation="""Replace the bind mount by a named volume: `docker service update
    --mount-rm <target> --mount-add type=volume,source=<volume>,target=<target> {name}` (Compose:
    `volumes: ["<volume>:<target>"]` plus a top-level `volumes:` entry), or a config/secret for
    files.""",
    alone=True,
)
def bind_mounts(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        binds = sorted({m.source for m in service.mounts if m.type == "bind"})
        outcomes.append(
            check(
                Obj.of_service(service),
                not binds,
                f"service {service.name} has no bind mount",
                f"service {service.name} bind-mounts {', '.join(binds)}",
            )
        )
    return outcomes


@rule(
    id="config.sensitive-host-path",
    title="No bind mount of sensitive host paths",
    target="S",
    severity="critical",
    seed="000",
    rationale="""Seed 000 moves production off bind mounts; mounting host system paths (`/`,
    `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, Docker's own state or socket) is the worst case:
    a compromised container can then read or change the host itself. Only infrastructure
    services (labelled `watchkeeper.role=infrastructure`) may do this.""",
    remediation="""Remove the mount: `docker service update --mount-rm <target> {name}`. If the
    service really is infrastructure (an agent), label it:
    `docker service update --label-add watchkeeper.role=infrastructure {name}`.""",
    alone=True,
)
def sensitive_host_path(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if service.is_infrastructure:
            continue
        paths = bind_sources_in(service, SENSITIVE_PATHS)
        outcomes.append(
            check(
                Obj.of_service(service),
                not paths,
                f"service {service.name} mounts no sensitive host path",
                f"service {service.name} bind-mounts sensitive host path(s) {', '.join(paths)}",
            )
        )
    return outcomes


@rule(
    id="config.stateful-pinned",
    title="Stateful services pinned to one node",
    target="S",
    severity="warning",
    seed="000 (node.labels.database == true)",
    rationale="""Seed 000 pins stateful services such as a database with a node label constraint
    (`node.labels.database == true`). A local volume lives on one node: if the task is
    rescheduled elsewhere it starts with an empty volume and the data seems lost. A pin is a
    `node.hostname==`/`node.id==` constraint, or constraints that only one node of the swarm
    meets (a label on several nodes is no pin). A local-driver volume on NFS/CIFS is network
    storage and needs no pin.""",
    remediation="""`docker node update --label-add database=true <node>` then
    `docker service update --constraint-add 'node.labels.database==true' {name}` (Compose:
    `deploy: placement: constraints: ["node.labels.database == true"]`); give that label to one
    node only.""",
)
def stateful_pinned(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        local = sorted(
            {
                m.source or m.target
                for m in service.mounts
                if m.type == "volume"
                and m.volume_driver in (None, "", "local")
                and not m.network_storage
            }
        )
        if not local:
            continue
        volumes = ", ".join(local)
        pin = single_node_pin(service)
        labels = node_label_constraints(service)
        if pin:
            passed, why = True, f"is pinned by {pin}"
        elif not labels:
            passed, why = False, "has no constraint pinning it to one node"
        elif not snapshot.nodes:  # the lint: the nodes are not known, the label is the pin
            passed, why = True, f"is pinned by node.labels.{labels[0][0]}=={labels[0][1]}"
        else:
            nodes = sorted(n.hostname for n in placeable_nodes(service, snapshot.nodes))
            passed = len(nodes) == 1
            why = (
                f"is pinned to {nodes[0]} by its constraints"
                if passed
                else f"has constraints that {len(nodes)} nodes meet"
                + (f" ({', '.join(nodes)})" if nodes else "")
                + ", not one"
            )
        message = f"service {service.name} with local volume(s) {volumes} {why}"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes
