"""Images: pinned, consistent, from a registry the team controls."""

from __future__ import annotations

import re

from readiness.checks import Obj, bad, check, ok, pending
from readiness.registry import rule
from readiness.rules._util import DOCKER_HUB_HOSTS, parse_image
from readiness.transients import transient

# Tags that name a moving target: whatever was pushed last on a branch or channel.
MUTABLE_TAGS = {"latest", "main", "master", "stable", "edge", "dev", "nightly"}
# A bare major version (postgres:16, node:v20, redis:7-alpine) follows every minor release.
BARE_MAJOR = re.compile(r"^v?\d{1,4}$")
# A date (2024-05-01, 20240501, 2024.05.01): a build of that day, pinned.
DATE_TAG = re.compile(r"^\d{4}[-.]?\d{2}[-.]?\d{2}")


def mutable_tag(tag: str) -> str | None:
    """Why TAG moves (a channel name or a bare major version), or None when it pins a release.
    A variant suffix (`16-alpine`, `stable-slim`) does not pin: its first part decides."""
    head = tag.lower().split("-", 1)[0]
    if tag.lower() in MUTABLE_TAGS or head in MUTABLE_TAGS:
        return f"the tag {tag} moves with every push"
    if BARE_MAJOR.match(head) and not DATE_TAG.match(tag):
        return f"the tag {tag} is a bare major version (it follows every minor release)"
    return None


def _without_digest(ref: str) -> str:
    return ref.split("@", 1)[0]


@rule(
    id="images.tag-pinned",
    title="Image pinned to a tag other than latest",
    target="S",
    severity="critical",
    seed="003",
    rationale="""Seed 003 (Improving your deployments) warns that an image without a tag is
    implicitly `:latest`: any task started later (scaling, a crash) silently gets whatever was
    pushed last. Deploy an explicit version tag, treated as immutable, or a digest.""",
    remediation="""`docker service update --image registry.example.com/app:1.4.2 {name}`
    (Compose: `image: registry.example.com/app:1.4.2`); never reuse a tag for new code.""",
    alone=True,
)
def tag_pinned(snapshot, policy, context):
    """Judge the image the service runs now (ContainerSpec.Image); the stack's
    `com.docker.stack.image` label only explains drift (`docker service update --image` leaves
    it stale). Swarm appends the resolved digest to a tag (`app:latest@sha256:...`); the tag
    still decides, since the next deploy resolves it again."""
    outcomes = []
    for service in snapshot.services:
        image = service.image
        if not image:
            continue
        _, _, tag, digest = parse_image(image)
        if tag and (moving := mutable_tag(tag)):
            passed, why = False, f"is not pinned: {moving}"
        elif tag:
            passed, why = True, f"is pinned to tag {tag}"
        elif digest:
            passed, why = True, "is pinned by digest"
        else:
            passed, why = False, "has no tag (implicitly latest)"
        message = f"service {service.name}: image {image} {why}"
        label = service.labels.get("com.docker.stack.image")
        if label and _without_digest(label) != _without_digest(image):
            message += f" (deployed as {label}, now runs {_without_digest(image)})"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes


@rule(
    id="images.digest-pinned",
    title="Image pinned by digest",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 asks to treat tags as immutable, but a registry cannot enforce that:
    a tag can be pushed again. A `@sha256:` digest in the service spec is the only reference that
    guarantees every task runs the exact same bytes.""",
    remediation="""`docker service update --image app:1.4.2@sha256:<digest> {name}` (get the
    digest with `docker buildx imagetools inspect app:1.4.2`; Compose: `image:
    app:1.4.2@sha256:<digest>`).""",
    alone=True,
)
def digest_pinned(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if not service.image:
            continue
        passed = "@sha256:" in service.image
        outcomes.append(
            check(
                Obj.of_service(service),
                passed,
                f"service {service.name}: image {service.image} carries a digest",
                f"service {service.name}: image {service.image} has no @sha256: digest",
            )
        )
    return outcomes


@rule(
    id="images.consistent",
    title="All tasks run the same image",
    target="S",
    severity="critical",
    seed="003 (50 of your 100 instances)",
    rationale="""Seed 003 describes the nightmare of debugging a service where half the
    instances run one image and half another. When running tasks disagree on the image, an update
    is stuck halfway or a mutable tag moved under the service.""",
    remediation="""Finish or redo the rollout to one pinned image:
    `docker service update --force --image <image>@sha256:<digest> {name}`.""",
    runtime=True,
)
def consistent(snapshot, policy, context):
    """Pending instead of failing while a rolling update is inside its bound (transients)."""
    outcomes = []
    for service in snapshot.services:
        images = {t.image for t in snapshot.running_tasks_of_service(service.id)}
        if not images:
            continue
        obj = Obj.of_service(service)
        listed = ", ".join(sorted(images))
        if len(images) == 1:
            outcomes.append(ok(obj, f"service {service.name}: every running task runs {listed}"))
            continue
        observed = f"service {service.name}: running tasks use {len(images)} images: {listed}"
        if (why := transient(service, context.now)) is not None:
            outcomes.append(pending(obj, f"{observed}: {why}"))
        else:
            outcomes.append(bad(obj, observed))
    return outcomes


# Public registries: anyone can push there, so "not Docker Hub" does not mean "ours".
PUBLIC_REGISTRIES = frozenset(
    {
        "docker.io",
        "ghcr.io",
        "quay.io",
        "public.ecr.aws",
        "registry.gitlab.com",
        "mcr.microsoft.com",
        "gcr.io",
    }
)


def _allow_entry(entry: str) -> tuple[str, str]:
    """(host, path prefix) of an allow-list entry; a bare namespace (`acme/`) is Docker Hub's."""
    entry = entry.strip().rstrip("/")
    first, _, rest = entry.partition("/")
    if "." in first or ":" in first or first == "localhost":
        host, path = first, rest
    else:
        host, path = "docker.io", entry
    host = host.lower()
    if host in DOCKER_HUB_HOSTS:
        host = "docker.io"
    return host, path


def entry_admits(entry: str, host: str, repo: str) -> bool:
    """ENTRY names the image's whole host (and port), or its host plus a path prefix ending on a
    `/` boundary: `registry.example.com` does not admit `registry.example.com.evil.io`, `acme/`
    (Docker Hub's acme) does not admit `evil.io/acme/app`."""
    allowed_host, prefix = _allow_entry(entry)
    if host.lower() != allowed_host:
        return False
    return not prefix or repo == prefix or repo.startswith(prefix + "/")


def registry_allowed(image: str, policy) -> tuple[bool, str]:
    host, repo, _, _ = parse_image(image)
    full = f"{host}/{repo}"
    for entry in policy.allowed_registries:
        if entry_admits(entry, host, repo):
            return True, f"allowed by {entry}"
    if policy.allow_private_registries and host.lower() not in PUBLIC_REGISTRIES:
        return True, f"private registry {host}"
    if host.lower() in PUBLIC_REGISTRIES:
        return False, f"{full} is on the public registry {host}, not on the allow-list"
    return False, f"{full} is not on the allow-list"


@rule(
    id="images.registry",
    title="Images from an allowed registry",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 recommends keeping production images in an organisational registry,
    ideally a private one close to the cluster, rather than a personal Docker Hub account that one
    person controls and that needs internet access. By default we accept any private registry
    host and Docker Hub's official `library/` images; public registries (Docker Hub, ghcr.io,
    quay.io, public.ecr.aws, registry.gitlab.com, mcr.microsoft.com, gcr.io) are not private.
    Allow-list entries name a whole host (with its port) or a host and a path prefix.""",
    remediation="""Push the image to your organisation's registry and
    `docker service update --image registry.example.com/team/app:1.4.2 {name}` (Compose:
    `image: registry.example.com/team/app:1.4.2`), or add the namespace to the cluster
    policy's allowed registries.""",
    alone=True,
)
def registry(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        image = service.deployed_image
        if not image:
            continue
        passed, why = registry_allowed(image, policy)
        message = f"service {service.name}: image {image}: {why}"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes
