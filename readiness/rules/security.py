"""Security: TLS to the API, autolock, certificates, encrypted overlays, no host control."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import DOCKER_SOCKETS, exposes, normal_path

NS_PER_DAY = 86_400 * 10**9
DANGEROUS_CAPS = {
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_MODULE",  # load kernel modules
    "SYS_PTRACE",  # read and change other processes
    "DAC_READ_SEARCH",  # read any file by handle (the "shocker" escape)
    "BPF",  # load eBPF programs
    "PERFMON",  # kernel performance monitoring
    "SYS_RAWIO",  # raw device and port I/O
}


@rule(
    id="security.api-tls",
    title="Docker API reached over TLS, SSH or a socket",
    target="C",
    severity="critical",
    seed="002",
    rationale="""Seed 002 calls TLS crucial for any client traffic carrying credentials. The
    Docker API is root on every node: reach it through the local socket, SSH, or TCP with TLS
    client certificates and server verification, never plain TCP.""",
    remediation="""Configure dockerd with `--tlsverify --tlscacert ca.pem --tlscert server.pem
    --tlskey server-key.pem -H tcp://0.0.0.0:2376`, then give Watchkeeper the client
    certificate and key, or use an `ssh://user@host` URL instead.""",
)
def api_tls(snapshot, policy, context):
    endpoint = context.endpoint
    if endpoint is None:
        return []
    if endpoint.scheme in ("unix", "ssh", "npipe"):
        passed, observed = True, f"{endpoint.scheme} endpoint"
    else:
        passed = endpoint.tls and endpoint.client_cert and endpoint.verify
        observed = (
            f"{endpoint.scheme} endpoint with TLS client certificates and verification"
            if passed
            else f"{endpoint.scheme} endpoint without TLS client certificates and verification"
        )
    return [check(Obj.cluster(context.cluster_name), passed, observed, observed)]


@rule(
    id="security.autolock",
    title="Manager autolock enabled",
    target="C",
    severity="warning",
    seed="002",
    rationale="""Seed 002 asks for a security review of production clusters. Swarm autolock
    encrypts the managers' Raft keys at rest, so a stolen manager disk or backup does not hand
    over every secret of the swarm.""",
    remediation="""`docker swarm update --autolock=true` and store the unlock key
    (`docker swarm unlock-key`) in your password manager.""",
)
def autolock(snapshot, policy, context):
    if not snapshot.swarm.cluster_id and not snapshot.nodes:
        return []
    state = "enabled" if snapshot.swarm.autolock else "disabled"
    return [
        check(
            Obj.cluster(context.cluster_name),
            snapshot.swarm.autolock,
            f"autolock {state}",
            f"autolock {state}",
        )
    ]


@rule(
    id="security.cert-expiry",
    title="Node certificates rotate within 90 days",
    target="C",
    severity="info",
    seed="002",
    rationale="""Seed 002's security review covers the swarm's own TLS. Short-lived node
    certificates (90 days or less) limit how long a leaked node certificate stays useful.""",
    remediation="""`docker swarm update --cert-expiry 2160h` (90 days; default 2160h).""",
)
def cert_expiry(snapshot, policy, context):
    expiry = snapshot.swarm.node_cert_expiry_ns
    if expiry is None:
        return []
    days = expiry / NS_PER_DAY
    message = f"node certificates expire after {days:g} days"
    return [
        check(
            Obj.cluster(context.cluster_name),
            days <= policy.cert_expiry_max_days,
            message,
            f"{message} (more than {policy.cert_expiry_max_days})",
        )
    ]


@rule(
    id="security.overlay-encrypted",
    title="Overlay networks encrypted",
    target="W",
    severity="warning",
    seed="002",
    rationale="""Seed 002 insists on encrypting traffic. Swarm overlay traffic between nodes is
    not encrypted by default; the `encrypted` option turns on IPsec for it, which matters as soon
    as nodes talk over a network you do not fully control.""",
    remediation="""Overlay encryption is set at creation: `docker network create --driver overlay
    --opt encrypted {name}-new`, move the services (`docker service update --network-rm {name}
    --network-add {name}-new <service>`), remove the old one (Compose: `networks: {name}:
    driver: overlay, driver_opts: {encrypted: "true"}`).""",
)
def overlay_encrypted(snapshot, policy, context):
    used = {ref for service in snapshot.services for ref in service.networks}
    outcomes = []
    for network in snapshot.networks:
        if network.driver != "overlay" or network.ingress:
            continue
        if network.id not in used and network.name not in used:
            continue
        outcomes.append(
            check(
                Obj.of_network(network),
                network.encrypted,
                f"overlay network {network.name} is encrypted",
                f"overlay network {network.name} is not encrypted",
            )
        )
    return outcomes


def is_docker_socket(mount) -> bool:
    """A bind mount that hands over a Docker daemon's socket: a standard socket path or one of
    its parents (`/var/run`, `/run`, `/`), a socket named docker.sock anywhere (rootless Docker:
    $XDG_RUNTIME_DIR/docker.sock, a non-default --host), or any socket the container sees at the
    standard path."""
    if mount.type != "bind":
        return False
    source = normal_path(mount.source)
    return (
        any(exposes(source, socket) for socket in DOCKER_SOCKETS)
        or source.rsplit("/", 1)[-1] == "docker.sock"
        or normal_path(mount.target) in DOCKER_SOCKETS
    )


@rule(
    id="security.docker-socket",
    title="No Docker socket in application services",
    target="S",
    severity="critical",
    seed="002",
    rationale="""Seed 002's security review: access to the Docker socket is root on the host and
    control of the swarm. Only infrastructure services (labelled
    `watchkeeper.role=infrastructure`) may mount it.""",
    remediation="""`docker service update --mount-rm /var/run/docker.sock {name}`; for a real
    infrastructure agent use a restricted socket proxy and
    `docker service update --label-add watchkeeper.role=infrastructure {name}`.""",
    alone=True,
)
def docker_socket(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if service.is_infrastructure:
            continue
        sockets = sorted({normal_path(m.source) for m in service.mounts if is_docker_socket(m)})
        outcomes.append(
            check(
                Obj.of_service(service),
                not sockets,
                f"service {service.name} does not mount the Docker socket",
                f"service {service.name} mounts the Docker socket {', '.join(sockets)}",
            )
        )
    return outcomes


@rule(
    id="security.capabilities",
    title="No dangerous added capabilities",
    target="S",
    severity="critical",
    seed="002",
    rationale="""Seed 002's security review, with CIS Docker Benchmark section 7: `ALL`,
    `SYS_ADMIN`, `NET_ADMIN`, `SYS_MODULE`, `SYS_PTRACE`, `DAC_READ_SEARCH`, `BPF`, `PERFMON` and
    `SYS_RAWIO` give a container near-root control of the host, its kernel or its network, so a
    compromise of the service becomes a compromise of the node.""",
    remediation="""`docker service update --cap-drop SYS_ADMIN {name}` (remove from `--cap-add`;
    Compose: drop them from `cap_add:`), granting only the narrow capability needed.""",
    alone=True,
)
def capabilities(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        added = {cap.upper().removeprefix("CAP_") for cap in service.cap_add}
        dangerous = sorted(added & DANGEROUS_CAPS)
        outcomes.append(
            check(
                Obj.of_service(service),
                not dangerous,
                f"service {service.name} adds no dangerous capability",
                f"service {service.name} adds capabilities {', '.join(dangerous)}",
            )
        )
    return outcomes
